// The recipients preview, live: when the segment changes, ask the same preview the
// "Preview recipients" button gets (it stores nothing) and show its table. Without
// JavaScript the button does it.
(function () {
  "use strict";
  var form = document.getElementById("compose");
  var reach = document.getElementById("reach");
  if (!form || !reach || !window.fetch || !window.DOMParser) return;
  var segment = form.elements.namedItem("segment");
  var timer = null;
  var asked = 0;

  function refresh() {
    var ticket = ++asked;
    fetch("/dashboard/pushes/preview", {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      credentials: "same-origin"
    })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        if (ticket !== asked) return; // a later change answered already
        var page = new DOMParser().parseFromString(html, "text/html");
        var fresh = page.getElementById("reach");
        var refused = page.getElementById("error-segment");
        if (refused) {
          var note = document.createElement("p");
          note.className = "field-error";
          note.textContent = refused.textContent;
          reach.replaceChildren(note);
        } else if (fresh) {
          reach.replaceChildren.apply(reach, Array.prototype.slice.call(fresh.childNodes));
        }
      })
      .catch(function () { /* the button still works */ });
  }

  segment.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, 400);
  });
})();
