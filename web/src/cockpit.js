// cockpit.js is loaded by index.html from the bridge's base1 package (it is not an npm
// package); this module hands its global to the bundle.
const cockpit = window.cockpit;
export default cockpit;
