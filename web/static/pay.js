// The order page. Inside WeChat, WeChat Pay opens in place (WeixinJSBridge). Inside Telegram's
// Mini App, a Stars invoice opens in place (Telegram's
// web_app_open_invoice event, as Telegram.WebApp.openInvoice sends it) instead of leaving the
// app for its t.me link; when Telegram says it is paid, the page reloads to show the delivery.
// Anywhere else the Pay form posts as usual and the browser follows the link. Telegram's own
// script is not loaded: nothing comes from a CDN.
(function () {
  "use strict";
  var INVOICE = /^https:\/\/t\.me\/(?:\$|invoice\/)([\w-]+)$/;

  function inTelegram() {
    var marked = false;
    try { marked = window.sessionStorage.getItem("studyhall_telegram") === "1"; } catch (e) { /* private mode */ }
    return marked && (Boolean(window.TelegramWebviewProxy) || window.parent !== window);
  }

  function postEvent(type, data) {
    if (window.TelegramWebviewProxy) {  // Telegram's phone and desktop apps
      window.TelegramWebviewProxy.postEvent(type, JSON.stringify(data));
    } else {  // Telegram Web: the page is in its frame
      window.parent.postMessage(JSON.stringify({ eventType: type, eventData: data }), "https://web.telegram.org");
    }
  }

  function whenClosed(slug) {
    function closed(type, data) {
      if (type !== "invoice_closed" || !data || data.slug !== slug) return;
      if (data.status === "paid") {
        document.getElementById("stars-paid").hidden = false;
        window.setTimeout(function () { window.location.reload(); }, 1500);
      }
    }
    window.Telegram = window.Telegram || {};
    var view = window.Telegram.WebView = window.Telegram.WebView || {};
    var earlier = view.receiveEvent;
    view.receiveEvent = function (type, data) {  // how the apps answer
      closed(type, data);
      if (earlier) earlier(type, data);
    };
    window.addEventListener("message", function (event) {  // how Telegram Web answers
      try {
        var message = JSON.parse(event.data);
        closed(message.eventType, message.eventData);
      } catch (e) { /* not Telegram's */ }
    });
  }

  // Inside WeChat's browser: WeChat Pay in place (JSAPI), with the parameters the server signed.
  function wechatPay(button) {
    var params = JSON.parse(button.getAttribute("data-client"));
    function invoke() {
      window.WeixinJSBridge.invoke("getBrandWCPayRequest", params, function (answer) {
        if (answer && answer.err_msg === "get_brand_wcpay_request:ok") {
          document.getElementById("wechat-paid").hidden = false;
          window.setTimeout(function () { window.location.reload(); }, 1500);
        }
      });
    }
    if (window.WeixinJSBridge) invoke();
    else document.addEventListener("WeixinJSBridgeReady", invoke, false);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var wechat = document.getElementById("wechat-pay");
    if (wechat) wechat.addEventListener("click", function () { wechatPay(wechat); });
    var form = document.querySelector('form[data-provider="stars"]');
    if (!form || !inTelegram()) return;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      })
        .then(function (response) { return response.ok ? response.json() : Promise.reject(response); })
        .then(function (answer) {
          var found = INVOICE.exec(answer.url || "");
          if (!found) { window.location.href = answer.url; return; }
          whenClosed(found[1]);
          postEvent("web_app_open_invoice", { slug: found[1] });
        })
        .catch(function () { form.submit(); });  // the page itself says what went wrong
    });
  });
})();
