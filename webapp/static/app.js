// The prediction form: one WebSocket per page. The server reserves a UUID on the socket
// ("ready") before the form can be submitted, the form POSTs with that UUID, and the socket
// pushes this page's prediction only. All text is set with textContent (never parsed as HTML).
(function () {
  "use strict";
  const FIELDS = ["Origin", "Dest", "Carrier", "FlightDate", "DepDelay", "CRSDepTime", "FlightNum"];
  const form = document.getElementById("flight-form");
  const button = document.getElementById("submit");
  const result = document.getElementById("result");
  const status = document.getElementById("status");
  const chart = document.getElementById("chart");
  const labels = JSON.parse(chart.dataset.labels);
  const notice = document.getElementById("platform-status");
  let socket = null;
  let pending = null;
  let reserved = null;
  let startedAt = null;

  function text(id, value) { document.getElementById(id).textContent = value; }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(scheme + "://" + location.host + "/ws/predictions");
    socket.onmessage = function (event) {
      const message = JSON.parse(event.data);
      if (message.type === "ready") {
        reserved = message.UUID;
        button.disabled = false;
      } else if (message.type === "prediction") {
        show(message.prediction);
      } else if (message.type === "timeout") {
        status.textContent = message.message;
        button.disabled = false;
        poll(message.UUID);
      }
    };
    socket.onclose = function () {
      // No reconnect until the page is used again (ensureSocket); the form still submits
      // without a socket, and its answer is then fetched by polling.
      reserved = null;
      socket = null;
      button.disabled = false;
    };
  }

  function ensureSocket() {
    if (socket === null) connect();
  }

  // The platform's state (GET /api/status): shown until it serves, checked again every 5 s.
  async function checkStatus() {
    let body = null;
    try {
      const response = await fetch("/api/status");
      body = await response.json();
    } catch (err) {
      body = null;
    }
    const serving = body && body.serving;
    notice.hidden = !!serving;
    if (!serving) {
      notice.textContent = (body && (body.message || body.error)) || "The platform's status cannot be read.";
      setTimeout(checkStatus, 5000);
    }
  }

  // An answer that came after the socket's wait: fetch it until it is there.
  function poll(uuid) {
    pending = uuid;
    setTimeout(async function () {
      if (pending !== uuid) return;
      try {
        const response = await fetch("/api/predictions/" + encodeURIComponent(uuid));
        if (response.status === 200) {
          show(await response.json());
          return;
        }
      } catch (err) { /* the server is away for a moment: try again */ }
      poll(uuid);
    }, 2000);
  }

  function clearErrors() {
    FIELDS.concat(["form"]).forEach(function (field) {
      text(field + "-error", "");
      const input = document.getElementById(field);
      if (input) input.classList.remove("invalid");
    });
  }

  function showErrors(errors) {
    Object.keys(errors).forEach(function (field) {
      const slot = document.getElementById(field + "-error");
      const input = document.getElementById(field);
      if (slot && input) {
        slot.textContent = errors[field];
        input.classList.add("invalid");
      } else {
        text("form-error", field + ": " + errors[field]);
      }
    });
  }

  function show(prediction) {
    pending = null;
    const elapsed = Math.round(performance.now() - startedAt);
    status.textContent = "";
    text("band", prediction.PredictionLabel);
    text("model", prediction.ModelName + " v" + prediction.ModelVersion);
    text("elapsed", elapsed + " ms");
    text("uuid", prediction.UUID);
    chart.replaceChildren();
    labels.forEach(function (label, i) {
      const p = prediction.Probabilities[i] || 0;
      const row = document.createElement("div");
      row.className = "row" + (i === prediction.Prediction ? " chosen" : "");
      const name = document.createElement("span");
      name.textContent = label;
      const bar = document.createElement("div");
      bar.className = "bar";
      bar.style.width = Math.round(p * 100) + "%";
      const value = document.createElement("span");
      value.textContent = Math.round(p * 100) + " %";
      row.append(name, bar, value);
      chart.append(row);
    });
    result.dataset.uuid = prediction.UUID;
    result.dataset.state = "answered";
    button.disabled = false;
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    clearErrors();
    const body = {};
    FIELDS.forEach(function (field) {
      const value = document.getElementById(field).value.trim();
      if (value !== "") body[field] = value;
    });
    if (reserved) body.UUID = reserved;
    button.disabled = true;
    startedAt = performance.now();
    let response;
    try {
      response = await fetch("/api/predictions", {
        method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
    } catch (err) {
      text("form-error", "The server cannot be reached.");
      button.disabled = false;
      return;
    }
    const answer = await response.json().catch(function () { return {}; });
    if (response.status === 202) {
      result.hidden = false;
      result.dataset.state = "waiting";
      status.textContent = "Waiting for the prediction…";
      text("band", "");
      chart.replaceChildren();
      if (socket && socket.readyState === WebSocket.OPEN && answer.UUID === reserved) {
        socket.send(JSON.stringify({type: "submitted", UUID: answer.UUID}));
      } else {
        poll(answer.UUID);
      }
    } else if (answer.errors) {
      showErrors(answer.errors);
      if (answer.errors.UUID && socket) socket.close();  // get a fresh reservation
      button.disabled = false;
    } else {
      text("form-error", answer.error || ("The server answered " + response.status));
      button.disabled = false;
    }
  });

  form.addEventListener("focusin", ensureSocket);
  form.addEventListener("input", ensureSocket);
  connect();
  checkStatus();
})();
