const presets = window.MASTRA_REQUEST_CONTEXT_PRESETS;
export const hasPresets = presets && presets !== '%%MASTRA_REQUEST_CONTEXT_PRESETS%%';
document.getElementById('root').textContent = 'studio test tree';
