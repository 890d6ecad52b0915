console.log("entry 1.0");
