/* qwentrade dashboard: the API key (sessionStorage only), htmx requests with it, and the
   page's mutations through the ordinary API endpoints. No framework, no build step. */
(function () {
  "use strict";
  var STORE = "qwentrade.apiKey";
  var body = document.body;
  var openReads = body.dataset.openReads === "1";

  function key() {
    try { return window.sessionStorage.getItem(STORE) || ""; } catch (e) { return ""; }
  }
  function setKey(value) {
    try {
      if (value) { window.sessionStorage.setItem(STORE, value); }
      else { window.sessionStorage.removeItem(STORE); }
    } catch (e) { /* storage refused: the key lives for this page only */ }
    showKeyState();
  }
  function showKeyState() {
    var state = document.getElementById("key-state");
    if (state) { state.textContent = key() ? "key set for this tab" : "no key"; }
  }
  function canRead() { return openReads || !!key(); }
  function toast(text, bad) {
    var box = document.getElementById("toast");
    if (!box) { return; }
    box.textContent = text;
    box.className = "toast show" + (bad ? " bad" : "");
    window.clearTimeout(toast.timer);
    toast.timer = window.setTimeout(function () { box.className = "toast"; }, 6000);
  }
  function detailOf(text, status) {
    try {
      var parsed = JSON.parse(text);
      if (parsed && parsed.detail) { return String(parsed.detail); }
    } catch (e) { /* not JSON */ }
    return "HTTP " + status;
  }

  /* JSON API call with the key; resolves to the parsed body, rejects with the detail. */
  function api(method, path, data) {
    var headers = { "Accept": "application/json" };
    if (key()) { headers["X-API-Key"] = key(); }
    var init = { method: method, headers: headers, credentials: "omit" };
    if (data !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(data);
    }
    return fetch(path, init).then(function (response) {
      return response.text().then(function (text) {
        if (!response.ok) { throw new Error(detailOf(text, response.status)); }
        return text ? JSON.parse(text) : null;
      });
    });
  }
  window.qwentrade = { api: api, key: key, canRead: canRead, toast: toast };

  function refresh() { if (window.htmx) { window.htmx.trigger(body, "qt-refresh"); } }

  document.addEventListener("htmx:configRequest", function (event) {
    if (!canRead()) {
      event.preventDefault();
      var target = event.detail.elt;
      if (target && target.classList.contains("fragment")) {
        target.innerHTML = "";
        var p = document.createElement("p");
        p.className = "muted";
        p.textContent = "Enter the API key above to load this.";
        target.appendChild(p);
      }
      return;
    }
    var elt = event.detail.elt;
    if (elt && elt.classList.contains("fragment") && !event.detail.triggeringEvent &&
        (elt.querySelector("details[open]") || elt.contains(document.activeElement))) {
      /* A timed refresh would close the explanation being read or drop the keyboard focus:
         skip this one (the next runs once the reader has moved on). */
      event.preventDefault();
      return;
    }
    if (key()) { event.detail.headers["X-API-Key"] = key(); }
  });
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var target = event.detail.target;
    if (!target) { return; }
    target.innerHTML = "";
    var p = document.createElement("p");
    p.className = "error";
    p.setAttribute("role", "alert");
    p.textContent = xhr.status + ": " + detailOf(xhr.responseText, xhr.status);
    target.appendChild(p);
  });

  var form = document.getElementById("key-form");
  if (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var input = document.getElementById("api-key");
      setKey(input.value.trim());
      input.value = "";
      document.dispatchEvent(new CustomEvent("qt-key"));
      if (window.htmx) { window.htmx.trigger(body, "qt-key"); }
    });
    document.getElementById("forget-key").addEventListener("click", function () {
      setKey("");
      document.dispatchEvent(new CustomEvent("qt-key"));
    });
  }
  showKeyState();

  /* Buttons in the fragments: data-action names the API call. */
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button[data-action]") : null;
    if (!button) { return; }
    var action = button.dataset.action;
    if (action === "close") {
      button.disabled = true;
      api("POST", "/trading/close-position", { symbol: button.dataset.symbol })
        .then(function (r) { toast("Closed " + button.dataset.symbol + " (" + r.cl_ord_id + ")"); })
        .catch(function (e) { toast("Close failed: " + e.message, true); button.disabled = false; })
        .then(refresh);
    } else if (action === "edit-plans") {
      var select = document.getElementById("plans-symbol");
      select.value = button.dataset.symbol;
      document.getElementById("plans-sl").value = button.dataset.sl || "";
      document.getElementById("plans-tp").value = button.dataset.tp || "";
      document.getElementById("plans-sl").focus();
    } else if (action === "cancel-pending") {
      button.disabled = true;
      api("POST", "/pending-order/" + encodeURIComponent(button.dataset.id) + "/cancel")
        .then(function () { toast("Cancelled pending order " + button.dataset.id); })
        .catch(function (e) { toast("Cancel failed: " + e.message, true); button.disabled = false; })
        .then(refresh);
    }
  });

  /* The plans form: replace the position's stop-loss / take-profit orders. */
  var plans = document.getElementById("plans-form");
  if (plans) {
    plans.addEventListener("submit", function (event) {
      event.preventDefault();
      var symbol = document.getElementById("plans-symbol").value;
      var row = document.querySelector('button[data-action="edit-plans"][data-symbol="' +
        symbol.replace(/"/g, "") + '"]');
      if (!row || !row.dataset.clOrdId) {
        toast("No open position of " + symbol + " placed by this service", true);
        return;
      }
      var list = [{ kind: "stop_loss", trigger_price: document.getElementById("plans-sl").value.trim(), fraction: "1" }];
      var tp = document.getElementById("plans-tp").value.trim();
      if (tp) { list.push({ kind: "take_profit", trigger_price: tp, fraction: "1" }); }
      api("POST", "/trading/set-stop-loss-take-profit", { cl_ord_id: row.dataset.clOrdId, plans: list })
        .then(function () { toast("Plans of " + symbol + " replaced"); })
        .catch(function (e) { toast("Plans refused: " + e.message, true); })
        .then(refresh);
    });
  }

  /* Config rows: PUT /config/{key} with the typed text (the key checks type and range). */
  document.addEventListener("submit", function (event) {
    var target = event.target;
    if (!target.classList || !target.classList.contains("config-form")) { return; }
    event.preventDefault();
    var name = target.dataset.key;
    var value = target.querySelector("input, select").value;
    api("PUT", "/config/" + encodeURIComponent(name), { value: value })
      .then(function (entry) { toast(name + " = " + entry.value); })
      .catch(function (e) { toast(name + " refused: " + e.message, true); })
      .then(refresh);
  });
})();
