// The Mastra app studiobake's end-to-end tests run as a real Mastra server.
// It is built once (`mastra build`); each test starts the built server with
// the environment it needs, read here at server start:
//
//   STUDIO_E2E_PORT         port to listen on (default 4111)
//   STUDIO_E2E_HOST         host to listen on (default 127.0.0.1)
//   STUDIO_E2E_AUTH=1       SimpleAuth with the token below (Studio's sign-in)
//   STUDIO_E2E_CORS_ORIGIN  comma-separated origins answered with credentials
//
// Nothing here calls a model: the agents are listed, never run, and the
// workflow's steps are plain functions.
import { Mastra } from '@mastra/core/mastra';
import { Agent } from '@mastra/core/agent';
import { SimpleAuth } from '@mastra/core/server';
import { createStep, createWorkflow } from '@mastra/core/workflows';
import { z } from 'zod';

// The sign-in token of the test user: a fixture, not a secret.
const testToken = 'sk-test-studiobake-e2e';

const weatherAgent = new Agent({
  id: 'weather-agent',
  name: 'Weather Agent',
  instructions: 'You describe the weather.',
  model: 'openai/gpt-4o-mini',
});

// An id with dots: API paths like /api/agents/support.bot-v1.2 must reach
// the server, not a static-file rule for "files with an extension".
const supportAgent = new Agent({
  id: 'support.bot-v1.2',
  name: 'Support Bot',
  instructions: 'You answer support questions.',
  model: 'openai/gpt-4o-mini',
});

const shout = createStep({
  id: 'shout',
  inputSchema: z.object({ text: z.string() }),
  outputSchema: z.object({ text: z.string() }),
  execute: async ({ inputData }) => ({ text: inputData.text.toUpperCase() }),
});

const sign = createStep({
  id: 'sign',
  inputSchema: z.object({ text: z.string() }),
  outputSchema: z.object({ greeting: z.string() }),
  execute: async ({ inputData }) => ({ greeting: `${inputData.text} (baked by studiobake)` }),
});

const greetWorkflow = createWorkflow({
  id: 'greet-workflow',
  inputSchema: z.object({ text: z.string() }),
  outputSchema: z.object({ greeting: z.string() }),
})
  .then(shout)
  .then(sign)
  .commit();

const corsOrigins = (process.env.STUDIO_E2E_CORS_ORIGIN ?? '')
  .split(',')
  .map((o) => o.trim())
  .filter((o) => o !== '');

export const mastra = new Mastra({
  agents: { 'weather-agent': weatherAgent, 'support.bot-v1.2': supportAgent },
  workflows: { 'greet-workflow': greetWorkflow },
  server: {
    port: Number(process.env.STUDIO_E2E_PORT ?? 4111),
    host: process.env.STUDIO_E2E_HOST ?? '127.0.0.1',
    ...(corsOrigins.length > 0 ? { cors: { origin: corsOrigins, credentials: true } } : {}),
    ...(process.env.STUDIO_E2E_AUTH === '1'
      ? { auth: new SimpleAuth({ tokens: { [testToken]: { id: 'e2e-user', name: 'E2E User' } } }) }
      : {}),
  },
});
