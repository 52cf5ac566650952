// A live preview of a lesson's Markdown while the creator types. The server renders and
// sanitises it exactly as for the Preview button (which works without this script): this only
// asks for that page in the background and shows its #preview part.
(() => {
  "use strict";
  const form = document.getElementById("lesson-form");
  const text = form && form.querySelector("textarea[name=body]");
  const live = document.getElementById("preview");
  if (!text || !live) return;
  let timer = 0;
  let asked = 0;
  text.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const data = new FormData(form);
      data.delete("file"); // a preview never needs the file
      data.set("do", "preview");
      const mine = ++asked;
      const response = await fetch(form.action, { method: "POST", body: data, credentials: "same-origin" });
      if (!response.ok || mine !== asked) return; // a later keystroke's answer wins
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const rendered = page.getElementById("preview");
      if (!rendered) return;
      live.replaceChildren(...Array.from(rendered.childNodes, (node) => document.importNode(node, true)));
      live.closest("section").hidden = false;
    }, 400);
  });
})();
