console.log("entry 1.10");
