// The one module of the build: defines the custom elements and, on the
// standalone page (an element with id "liaison-app"), mounts the shell.
import "./styles.css";
import { defineElements } from "./elements";
import { mountShell } from "./shell";

defineElements();
const app = document.getElementById("liaison-app");
if (app) mountShell(app);
