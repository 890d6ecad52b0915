import "./main-W2e3R4t5.js";
