// The sandbox beside the lesson: on a wide screen, the lesson's sandbox or lab (and its
// results) dock in a panel on the right, so "Run in sandbox" shows the result next to the
// paragraph that explains it. On a narrow screen it stays below the text. The learner's choice
// (docked or below) and the panel's width are kept in localStorage. The panel is resized by
// dragging its left edge, or with the arrow keys on it (a focusable separator).
const WIDE = "(min-width: 1100px)";
const LAYOUT_KEY = "querylab:workbench:layout";
const WIDTH_KEY = "querylab:workbench:width";
const MIN_WIDTH = 360;
const STEP = 40;

function stored(key) {
  try { return localStorage.getItem(key); } catch (e) { return null; }
}

function store(key, value) {
  try { localStorage.setItem(key, value); } catch (e) { /* private mode */ }
}

function maxWidth() {
  return Math.max(MIN_WIDTH, Math.round(window.innerWidth * 0.7));
}

function button(text) {
  const element = document.createElement("button");
  element.type = "button";
  element.className = "button button-small button-ghost workbench-toggle";
  element.textContent = text;
  return element;
}

// The layout toggle (above the sandbox's heading) and the width handle (its left edge).
function controls(section) {
  const toggle = button("");
  const handle = document.createElement("div");
  handle.className = "workbench-handle";
  handle.tabIndex = 0;
  handle.setAttribute("role", "separator");
  handle.setAttribute("aria-orientation", "vertical");
  handle.setAttribute("aria-label", "Width of the sandbox panel (arrow keys resize it)");
  handle.setAttribute("aria-valuemin", String(MIN_WIDTH));
  const bar = document.createElement("div");
  bar.className = "workbench-bar";
  bar.append(toggle);
  section.querySelector("h2").insertAdjacentElement("beforebegin", bar);
  bar.insertAdjacentElement("afterend", handle);
  return { toggle, handle };
}

// Arrow keys (Home and End: widest and narrowest) and dragging change the width by `resize`.
function resizable(handle, resize) {
  handle.addEventListener("keydown", (event) => {
    const by = { ArrowLeft: STEP, ArrowRight: -STEP, Home: maxWidth(), End: -maxWidth() }[event.key];
    if (by === undefined) return;
    event.preventDefault();
    resize((width) => width + by);
  });
  handle.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    handle.setPointerCapture(event.pointerId);
    const move = (e) => resize(() => window.innerWidth - e.clientX);
    const up = () => {
      handle.removeEventListener("pointermove", move);
      handle.removeEventListener("pointerup", up);
    };
    handle.addEventListener("pointermove", move);
    handle.addEventListener("pointerup", up);
  });
}

export function setUpDock() {
  const section = document.querySelector(".lesson .sandbox");
  if (!section || section.dataset.dockReady) return;
  section.dataset.dockReady = "1";
  const body = document.body;
  const wide = window.matchMedia(WIDE);
  const header = document.querySelector(".site-header");
  const { toggle, handle } = controls(section);
  let width = parseInt(stored(WIDTH_KEY) || "", 10) || Math.round(window.innerWidth * 0.42);
  const setWidth = (value, keep) => {
    width = Math.max(MIN_WIDTH, Math.min(maxWidth(), Math.round(value)));
    body.style.setProperty("--dock-width", width + "px");
    handle.setAttribute("aria-valuenow", String(width));
    handle.setAttribute("aria-valuemax", String(maxWidth()));
    if (keep) store(WIDTH_KEY, String(width));
  };
  const docked = () => (stored(LAYOUT_KEY) || "docked") === "docked";
  const apply = () => {
    const on = docked() && wide.matches;
    body.classList.toggle("workbench-docked", on);
    section.classList.toggle("is-docked", on);
    handle.hidden = !on;
    toggle.hidden = !wide.matches;
    toggle.textContent = docked() ? "Show below the lesson" : "Dock beside the lesson";
    if (header) body.style.setProperty("--header-height", header.offsetHeight + "px");
    setWidth(width, false);
  };
  toggle.addEventListener("click", () => {
    const wasDocked = docked();
    store(LAYOUT_KEY, wasDocked ? "below" : "docked");
    apply();
    if (!wasDocked) return;
    section.scrollIntoView({ block: "start" });
    toggle.focus();
  });
  wide.addEventListener("change", apply);
  resizable(handle, (change) => setWidth(change(width), true));
  apply();
}
