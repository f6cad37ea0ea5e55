// The fnhost console's only script: live views (server-sent events), checks of what is typed
// (JSON, cron previews asked of the server). Pages work without
// it, except the live parts. Text from the server is always set with textContent, never as HTML.
"use strict";

(function () {
  function byId(id) {
    return document.getElementById(id);
  }

  function setStatus(element, status) {
    element.textContent = status;
    element.className = "status status-" + status.toLowerCase();
  }

  // JSON typed into a form is checked as it is typed; the form cannot be sent while invalid.
  function jsonInputs() {
    document.querySelectorAll("[data-json-input]").forEach(function (input) {
      const problem = byId(input.getAttribute("aria-describedby"));
      const button = input.form.querySelector("button[type=submit]");
      const check = function () {
        let message = "";
        const text = input.value.trim();
        if (text) {
          try {
            const value = JSON.parse(text);
            const isObject = value !== null && typeof value === "object" && !Array.isArray(value);
            if ("jsonObject" in input.dataset && !isObject) {
              message = 'Give a JSON object, e.g. {"x": 1}';
            }
          } catch (error) {
            message = "Not valid JSON: " + error.message;
          }
        }
        input.setAttribute("aria-invalid", message ? "true" : "false");
        problem.textContent = message;
        button.disabled = Boolean(message);
      };
      input.addEventListener("input", check);
      check();
    });
  }

  // A cron expression is explained by the server as it is typed: when it fires, or what is wrong.
  function cronPreviews() {
    document.querySelectorAll("[data-cron-input]").forEach(function (input) {
      const preview = byId(input.getAttribute("aria-describedby"));
      const when = preview.querySelector(".when");
      const fires = preview.querySelector(".fires");
      let timer = null;
      let asked = 0;
      const ask = async function () {
        const mine = ++asked;
        const url = input.dataset.previewUrl + "?" + new URLSearchParams({ cron: input.value });
        let answer;
        try {
          const response = await fetch(url, { headers: { Accept: "application/json" } });
          answer = response.ok
            ? await response.json()
            : { valid: false, error: "Could not check the expression (HTTP " + response.status + ")" };
        } catch (error) {
          answer = { valid: false, error: "Could not reach the server to check the expression" };
        }
        if (mine !== asked) return; // a later keystroke asked again
        input.setAttribute("aria-invalid", answer.valid ? "false" : "true");
        preview.classList.toggle("invalid", !answer.valid);
        when.textContent = answer.valid ? answer.when : answer.error;
        fires.replaceChildren.apply(
          fires,
          (answer.next || []).map(function (text) {
            const item = document.createElement("li");
            item.textContent = text;
            return item;
          })
        );
      };
      input.addEventListener("input", function () {
        clearTimeout(timer);
        timer = setTimeout(ask, 250);
      });
      if (input.value) ask();
    });
  }

  function listen(url, handlers) {
    const source = new EventSource(url);
    Object.keys(handlers).forEach(function (name) {
      source.addEventListener(name, function (event) {
        handlers[name](JSON.parse(event.data), source);
      });
    });
    return source;
  }

  // A running call: its log lines appear as they are printed, and its end fills in the rest.
  function liveCall() {
    const root = document.querySelector("[data-live-call]");
    if (!root) return;
    const logs = byId("call-logs");
    const url = root.dataset.eventsUrl + "?" + new URLSearchParams({ after: root.dataset.after });
    listen(url, {
      log: function (line) {
        const item = document.createElement("li");
        const time = document.createElement("time");
        const message = document.createElement("span");
        time.textContent = line.time;
        message.textContent = line.message;
        item.append(time, " ", message);
        logs.append(item);
      },
      end: function (end, source) {
        source.close();
        setStatus(byId("call-status"), end.status);
        byId("call-end").textContent = end.endTime;
        byId("call-duration").textContent = end.duration;
        if (end.response !== null) {
          byId("call-response").textContent = end.response;
          byId("response-section").hidden = false;
        }
        if (end.error) {
          byId("call-error").textContent = end.error.message;
          byId("call-trace").textContent = end.error.trace || "";
          byId("error-section").hidden = false;
        }
        if (!logs.children.length) byId("logs-empty").hidden = false;
      },
      gone: function (gone, source) {
        source.close();
        byId("call-duration").textContent = gone.message;
      },
    });
  }

  // A function being built: its status goes Queued, Deploying, then Ready or Failed (with why).
  function liveFunction() {
    const root = document.querySelector("[data-live-function]");
    if (!root) return;
    const url = root.dataset.eventsUrl + "?" + new URLSearchParams({ shown: root.dataset.shown });
    listen(url, {
      status: function (update) {
        setStatus(byId("function-status"), update.status);
        if (update.error) {
          byId("deploy-message").textContent = update.error.message;
          byId("deploy-trace").textContent = update.error.trace || "";
          byId("deploy-error").hidden = false;
        }
      },
      end: function (end, source) {
        source.close();
        root.textContent =
          end.status === "Ready" ? "Deployed: it is ready to run." : "The deploy failed: see why below.";
      },
      gone: function (gone, source) {
        source.close();
        root.textContent = gone.message;
      },
    });
  }

  function start() {
    jsonInputs();
    cronPreviews();
    liveCall();
    liveFunction();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
