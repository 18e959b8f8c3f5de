import { HutongError } from '@hutong/protocols';
import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { EnrolBody, EnrolReply, ErrorBody } from '../schemas.js';

/**
 * A gateway exchanges its one-time code for its MQTT credential and the cloud CA. No account needed (the code is
 * the secret), so it is rate-limited per address; every outcome is one answer: E_ENROLMENT_CODE.
 */
export async function enrolRoutes(app: FastifyInstance): Promise<void> {
  app.post<{ Body: Static<typeof EnrolBody> }>(
    '/api/enrol',
    { schema: { body: EnrolBody, response: { 200: EnrolReply, 403: ErrorBody, 429: ErrorBody } } },
    async (req) => {
      if (!app.hutong.enrolLimiter.take(req.ip)) throw new HutongError('E_RATE_LIMITED');
      const cred = await app.hutong.registry.gateways.enrol(req.body.gateway, req.body.code);
      // Answer only once the broker accepts the new secret, so the gateway's first connect succeeds.
      await app.hutong.credentialsSynced?.();
      return { ...cred, mqttUrl: app.hutong.mqtt.url, caPem: app.hutong.mqtt.caPem };
    },
  );
}
