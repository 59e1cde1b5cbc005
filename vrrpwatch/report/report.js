(function () {
  "use strict";
  // Keyboard users: a focused marker shows its <title> (the mouse gets the browser's tooltip).
  var tip = document.createElement("div");
  tip.className = "tip";
  tip.setAttribute("role", "tooltip");
  tip.hidden = true;
  document.body.appendChild(tip);
  document.addEventListener("focusin", function (e) {
    var el = e.target;
    var title = el && el.querySelector ? el.querySelector(":scope > title") : null;
    if (!title) { tip.hidden = true; return; }
    var box = el.getBoundingClientRect();
    tip.textContent = title.textContent;
    tip.hidden = false;
    tip.style.left = Math.max(4, Math.min(box.left + window.scrollX, window.scrollX + document.documentElement.clientWidth - tip.offsetWidth - 4)) + "px";
    tip.style.top = (box.bottom + window.scrollY + 6) + "px";
  });
  document.addEventListener("focusout", function () { tip.hidden = true; });
})();
