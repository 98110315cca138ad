// Live regions: an element with an id and data-live-refresh="<seconds>" is fetched again from the
// page's own address every so many seconds and swapped in place, so progress moves without a full
// reload (focus and scroll stay where they are). The server stops the polling by rendering the
// region without the attribute once the work is done. Without JavaScript a <noscript> meta
// refresh reloads the page instead.
(function () {
  "use strict";

  function schedule(region) {
    var seconds = parseFloat(region.getAttribute("data-live-refresh"));
    if (!(seconds > 0) || !region.id) {
      return;
    }
    window.setTimeout(function () { refresh(region.id); }, seconds * 1000);
  }

  function refresh(id) {
    var current = document.getElementById(id);
    if (!current) {
      return;
    }
    fetch(window.location.href, { credentials: "same-origin", headers: { "X-Live-Region": id } })
      .then(function (answer) {
        if (!answer.ok) {
          throw new Error("HTTP " + answer.status);
        }
        return answer.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(id);
        if (!fresh) {
          return;
        }
        current.replaceWith(document.importNode(fresh, true));
        schedule(document.getElementById(id));
      })
      .catch(function () {
        // A failed poll (network, a deploy) tries again later instead of giving up.
        window.setTimeout(function () { refresh(id); }, 10000);
      });
  }

  function start() {
    document.querySelectorAll("[data-live-refresh][id]").forEach(schedule);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
