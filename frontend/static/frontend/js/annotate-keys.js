// Keyboard shortcuts of the annotation page (listed for annotators in the template's shortcuts dialog).
//
// Controls keep their native keys: Space and Enter press a focused button, Space ticks a focused checkbox,
// arrows move a focused slider or radio group. Everything else is a page shortcut, wherever the focus is.

const NATIVE_SPACE = new Set(["BUTTON", "A", "SUMMARY"]);

function isTextEntry(el) {
  if (el.isContentEditable || el.tagName === "TEXTAREA" || el.tagName === "SELECT") return true;
  return el.tagName === "INPUT" && !["checkbox", "radio", "range", "button", "submit"].includes(el.type);
}

function isControl(el) {
  return NATIVE_SPACE.has(el.tagName) || (el.tagName === "INPUT" && ["checkbox", "radio", "range"].includes(el.type));
}

// `actions` holds the page's operations; returns the handler (installed on document).
export function bindShortcuts(actions) {
  const handler = (event) => {
    if (event.defaultPrevented || event.isComposing || event.altKey || event.metaKey) return;
    const target = event.target instanceof Element ? event.target : document.body;
    if (isTextEntry(target)) return;
    const key = event.key;

    if (key === "Escape") {
      if (actions.closeOverlays()) event.preventDefault();
      return;
    }
    if (event.ctrlKey) {
      if (key === "Enter") {
        event.preventDefault();
        actions.submit(event);
      }
      return;
    }
    if (actions.modalOpen()) return; // the shortcuts dialog takes nothing but Escape

    // Inside the guidelines, arrows and Space scroll the text.
    if (target.closest(".drawer") && ["ArrowUp", "ArrowDown", " ", "PageUp", "PageDown"].includes(key)) return;
    const onControl = isControl(target);
    const onRadio = target.tagName === "INPUT" && target.type === "radio";
    const onSlider = target.tagName === "INPUT" && target.type === "range";
    const run = (action) => {
      event.preventDefault();
      action();
    };

    // Digits on a score row set that row's score; elsewhere 1–3 are the choice for the highlighted dimension.
    if (onRadio && /^[1-5]$/.test(key) && target.dataset.mos) return run(() => actions.setMos(target, Number(key)));
    switch (key) {
      case " ":
        if (!onControl || target.id === "scrubber") run(actions.togglePlay);
        return;
      case "Enter":
        if (!NATIVE_SPACE.has(target.tagName)) run(() => actions.submit(event));
        return;
      case "ArrowLeft":
      case "ArrowRight":
        if (onRadio || onSlider) return;
        return run(() => actions.step(key === "ArrowLeft" ? -1 : 1));
      case "ArrowUp":
      case "ArrowDown":
        if (onRadio || onSlider) return;
        return run(() => actions.moveDimension(key === "ArrowUp" ? -1 : 1));
      case ",":
      case "<":
        return run(() => actions.step(-1));
      case ".":
      case ">":
        return run(() => actions.step(1));
      case "-":
      case "_":
        return run(() => actions.changeSpeed(-1));
      case "=":
      case "+":
        return run(() => actions.changeSpeed(1));
      case "0":
        return run(actions.restart);
      case "1":
        return run(() => actions.choose("left"));
      case "2":
        return run(() => actions.choose("tie"));
      case "3":
        return run(() => actions.choose("right"));
      case "?":
        return run(actions.toggleShortcuts);
      case "S":
        if (event.shiftKey) run(actions.skip);
        return;
      default:
        break;
    }
    if (event.shiftKey) return;
    switch (key.toLowerCase()) {
      case "k":
        return run(actions.togglePlay);
      case "l":
        return run(actions.toggleLoop);
      case "m":
        return run(actions.toggleMute);
      case "z":
        return run(() => actions.expand("left"));
      case "x":
        return run(() => actions.expand("right"));
      case "c":
        return run(actions.focusChecklist);
      case "g":
        return run(actions.toggleGuidelines);
      default:
    }
  };
  document.addEventListener("keydown", handler);
  return handler;
}
