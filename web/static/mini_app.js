// The Mini App's first page: Telegram puts its signed init data in the address's fragment
// (#tgWebAppData=...); hand it to the server, which checks Telegram's signature and signs the
// learner in. Telegram's own script is not loaded: nothing comes from a CDN.
(function () {
  "use strict";
  function initData() {
    var fragment = new URLSearchParams(window.location.hash.slice(1));
    return fragment.get("tgWebAppData") || "";
  }
  document.addEventListener("DOMContentLoaded", function () {
    var data = initData();
    if (!data) {
      document.getElementById("open-from-bot").hidden = false;
      return;
    }
    try { window.sessionStorage.setItem("studyhall_telegram", "1"); } catch (e) { /* private mode */ }
    document.getElementById("init-data").value = data;
    document.getElementById("signing-in").hidden = false;
    document.getElementById("telegram-sign-in").submit();
  });
})();
