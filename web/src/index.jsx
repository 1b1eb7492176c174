import "@patternfly/react-core/dist/styles/base.css";
import "./app.css";

import { createRoot } from "react-dom/client";

import { App } from "./app.jsx";
import { start } from "./certd.js";

start();
createRoot(document.getElementById("app")).render(<App />);
