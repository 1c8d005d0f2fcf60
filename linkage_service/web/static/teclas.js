// vinculo console: keyboard shortcuts of the review page (s, n, o), served locally.
// A key acts only outside text fields and without modifiers; the checkbox #atajos turns the
// shortcuts off (WCAG 2.1.4) and the choice is remembered in this browser.
(function () {
  "use strict";
  var box = document.getElementById("atajos");
  var store = window.localStorage;
  if (box && store && store.getItem("vinculo-atajos") === "no") { box.checked = false; }
  if (box && store) {
    box.addEventListener("change", function () {
      store.setItem("vinculo-atajos", box.checked ? "si" : "no");
    });
  }
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.altKey || event.metaKey || event.repeat) { return; }
    if (box && !box.checked) { return; }
    var target = event.target;
    var tag = target && target.tagName ? target.tagName.toLowerCase() : "";
    if (tag === "input" || tag === "textarea" || tag === "select" || (target && target.isContentEditable)) { return; }
    var key = (event.key || "").toLowerCase();
    if (key.length !== 1) { return; }
    var control = document.querySelector('[data-tecla="' + key + '"]');
    if (!control) { return; }
    event.preventDefault();
    control.click();
  });
})();
