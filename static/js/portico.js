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
})();
