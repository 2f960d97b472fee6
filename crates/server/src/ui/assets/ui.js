// Pushgateway web UI: live filtering, lazy group details, deletes and
// relative times. Plain JavaScript, no build step; everything it inserts is
// HTML the server rendered and escaped.
"use strict";
(function () {
  const base = document.body.dataset.base || ".";
  const groups = document.getElementById("groups");

  function listURL(query, page) {
    const params = new URLSearchParams();
    if (query) params.set("q", query);
    if (page && page > 1) params.set("page", String(page));
    return params;
  }

  async function reloadList(push) {
    if (!groups) return;
    const input = document.getElementById("filter");
    const query = input ? input.value.trim() : "";
    const current = new URLSearchParams(location.search);
    const page = push ? 1 : Number(current.get("page") || 1);
    const params = listURL(query, page);
    const shown = params.toString();
    params.set("list", "");
    const response = await fetch(base + "/?" + params.toString(), { headers: { Accept: "text/html" } });
    if (!response.ok) return;
    groups.innerHTML = await response.text();
    history.replaceState(null, "", shown ? "?" + shown : location.pathname);
    refreshTimes();
  }

  async function loadDetails(group) {
    const target = group.querySelector(".details");
    if (group.dataset.loaded === "true") return;
    group.dataset.loaded = "true";
    const response = await fetch(base + "/?group=" + encodeURIComponent(group.dataset.path));
    target.innerHTML = await response.text();
    refreshTimes();
  }

  async function deleteGroup(group) {
    const labels = group.querySelector(".labels").textContent;
    if (!confirm("Delete the group " + labels + "?")) return;
    const response = await fetch(base + "/metrics/" + group.dataset.path, { method: "DELETE" });
    if (response.status !== 202) {
      alert("Deleting failed: " + response.status + " " + (await response.text()));
      return;
    }
    await reloadList(false);
  }

  async function wipe(button) {
    if (!confirm("Delete all " + button.dataset.count + " groups?")) return;
    const response = await fetch(base + "/api/v1/admin/wipe", { method: "PUT" });
    if (response.status !== 202) {
      alert("Deleting failed: " + response.status + " " + (await response.text()));
      return;
    }
    location.reload();
  }

  function relative(seconds) {
    if (seconds < 1) return "just now";
    if (seconds < 60) return Math.floor(seconds) + " s ago";
    if (seconds < 3600) return Math.floor(seconds / 60) + " min ago";
    if (seconds < 86400) return Math.floor(seconds / 3600) + " h ago";
    return Math.floor(seconds / 86400) + " d ago";
  }

  function refreshTimes() {
    const now = Date.now();
    for (const t of document.querySelectorAll("time[datetime]")) {
      const rel = t.querySelector(".rel");
      const at = Date.parse(t.getAttribute("datetime"));
      if (rel && !Number.isNaN(at)) rel.textContent = relative((now - at) / 1000);
    }
  }

  // A long label value: show it whole, or cut again (without toggling
  // the group whose summary holds it).
  function toggleWhole(button) {
    const label = button.closest(".label.long");
    const rest = label.querySelector(".rest");
    const whole = rest.hidden;
    rest.hidden = !whole;
    label.querySelector(".ellipsis").hidden = whole;
    button.setAttribute("aria-expanded", String(whole));
    button.textContent = whole ? "show less" : button.dataset.more;
  }

  document.addEventListener("click", (event) => {
    const more = event.target.closest("button.whole");
    if (more) {
      event.preventDefault();
      event.stopPropagation();
      if (!more.dataset.more) more.dataset.more = more.textContent;
      toggleWhole(more);
      return;
    }
    const del = event.target.closest("button.delete");
    if (del) {
      event.preventDefault();
      event.stopPropagation();
      deleteGroup(del.closest("details.group"));
      return;
    }
    if (event.target.id === "wipe") wipe(event.target);
  });

  document.addEventListener("toggle", (event) => {
    const group = event.target;
    if (group.matches && group.matches("details.group") && group.open) loadDetails(group);
  }, true);

  const input = document.getElementById("filter");
  if (input) {
    let timer;
    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => reloadList(true), 200);
    });
    input.form.addEventListener("submit", (event) => {
      event.preventDefault();
      clearTimeout(timer);
      reloadList(true);
    });
  }
  setInterval(refreshTimes, 10000);
})();
