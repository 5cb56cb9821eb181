// Third-party libraries, re-exported so page modules import them from one place:
//   import { io, Sortable, Chart } from "./vendor.js";
// esbuild's code splitting puts them in one shared chunk (~290 KB minified)
// that the browser caches across pages. A page that needs only one library
// may import the package directly (e.g. "socket.io-client") to get a smaller
// chunk of its own.
export { io } from "socket.io-client";
export { default as Sortable } from "sortablejs";
export { default as Chart } from "chart.js/auto";
