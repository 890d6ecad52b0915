console.log("entry 0.18");
import("/assets/lazy-Zx9Cv8Bn.js");
