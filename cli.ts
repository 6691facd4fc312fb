// placeholder
console.log("rencfs");
