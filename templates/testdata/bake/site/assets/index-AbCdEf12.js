console.log("studio");WebAssembly.instantiate;
