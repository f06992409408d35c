// The Python editor of the Django ORM lab (static/editor/python.js).
import { python } from "@codemirror/lang-python";
import { start } from "./editor.js";

start(".sandbox.lab", "python", () => [python()]);
