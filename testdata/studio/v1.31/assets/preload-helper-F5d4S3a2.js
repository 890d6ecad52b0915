export function preload(u){return import(u)}
