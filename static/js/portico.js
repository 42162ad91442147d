// Behaviour that used to sit in inline event handlers, which the Content-Security-Policy forbids
// (script-src 'self'). Delegated from the document, so content htmx swaps in later is covered too.
(function () {
  "use strict";
  // <form data-confirm="Question?">: ask before submitting; "Cancel" keeps the page as it is.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form instanceof HTMLFormElement ? form.getAttribute("data-confirm") : null;
    if (question && !window.confirm(question)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);
  // <select data-autosubmit>: a filter that applies as soon as it changes.
  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field instanceof HTMLElement && field.hasAttribute("data-autosubmit") && field.form) {
      field.form.submit();
    }
  });

  // Narrow screens: the main nav folds behind a "Menu" button (a disclosure). The button stays hidden
  // without script, and the nav then wraps under the brand instead (static/css/portico.css).
  var toggle = document.querySelector(".nav-toggle");
  if (toggle) {
    var topbar = toggle.closest(".topbar");
    var setOpen = function (open) {
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      topbar.classList.toggle("nav-open", open);
    };
    document.documentElement.classList.add("js-nav");
    toggle.hidden = false;
    toggle.addEventListener("click", function () {
      setOpen(toggle.getAttribute("aria-expanded") !== "true");
    });
    topbar.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && toggle.getAttribute("aria-expanded") === "true") {
        setOpen(false);
        toggle.focus();
      }
    });
  }

  // Phone-width tables turn into cards (CSS); each cell is labelled with its column's heading.
  function labelCells(root) {
    root.querySelectorAll("table.table").forEach(function (table) {
      var heads = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
        return th.textContent.trim();
      });
      table.querySelectorAll("tbody tr").forEach(function (row) {
        Array.prototype.forEach.call(row.children, function (cell, index) {
          if (heads[index] && !cell.hasAttribute("data-label") && !cell.hasAttribute("colspan")) {
            cell.setAttribute("data-label", heads[index]);
          }
        });
      });
    });
  }
  labelCells(document);
  document.addEventListener("htmx:afterSettle", function (event) { labelCells(event.target); });

  // After an invalid submit the server renders an error summary (role="alert"): move the focus to it,
  // so keyboard and screen-reader users start from the list of what to fix.
  var summary = document.querySelector("[data-error-summary]");
  if (summary) {
    summary.focus();
  }
})();
