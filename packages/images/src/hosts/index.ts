export { configureHosts, hostDir, hostDirectory, parseHostsToml } from "./hosts.js";
