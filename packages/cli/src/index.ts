// sbx is an executable; this entry exists for tests and tooling.
export { main, resolve } from "./main.js";
export type { MainOptions } from "./main.js";
