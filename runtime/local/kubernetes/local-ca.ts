import { webcrypto } from 'node:crypto';
// @peculiar/x509 2.x resolves its algorithms through tsyringe, which needs a Reflect metadata
// polyfill loaded before it (the library's README); this import must stay above the next one.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

/**
 * A certificate authority of the local cloud, made afresh for each local API server: a CA and a
 * server certificate for 127.0.0.1 and localhost signed by it. A client trusts the server only
 * when it is given the CA (as a Lambda is given DescribeCluster's certificateAuthority), so the
 * local path checks the same TLS trust as the private cluster's: a client that skips or forgets it
 * fails here too. Nothing is written to disk.
 *
 * The crypto provider is passed to every call rather than set on `x509.cryptoProvider`, so making
 * a CA changes no process-wide state.
 */
export interface LocalCa {
  /** The CA certificate, PEM (what a client trusts). */
  caPem: string;
  /** The server certificate, PEM, signed by the CA; SANs IP 127.0.0.1 and DNS localhost. */
  certPem: string;
  /** The server certificate's private key, PKCS#8 PEM (what `https.createServer({ key })` takes). */
  keyPem: string;
}

const crypto = webcrypto;
const EC: webcrypto.EcKeyGenParams & webcrypto.EcdsaParams = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
/** Clients on a machine whose clock is slightly behind still accept the certificate. */
const BACKDATE_MS = 5 * 60_000;
const VALIDITY_MS = 24 * 3_600_000;

/**
 * A CA and a server certificate valid from a few minutes before `now` for a day. `now` is the wall
 * clock, not a virtual one: TLS clients check validity against their own clock.
 */
export async function createLocalCa(now: number = Date.now()): Promise<LocalCa> {
  const notBefore = new Date(now - BACKDATE_MS);
  const notAfter = new Date(now + VALIDITY_MS);
  const caKeys = await crypto.subtle.generateKey(EC, false, ['sign', 'verify']);
  const ca = await x509.X509CertificateGenerator.createSelfSigned(
    {
      name: 'CN=inference-baseline local Kubernetes CA',
      notBefore,
      notAfter,
      keys: caKeys,
      signingAlgorithm: EC,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey, false, crypto),
      ],
    },
    crypto,
  );

  const serverKeys = await crypto.subtle.generateKey(EC, true, ['sign', 'verify']);
  const server = await x509.X509CertificateGenerator.create(
    {
      subject: 'CN=kube-apiserver',
      issuer: ca.subject,
      notBefore,
      notAfter,
      publicKey: serverKeys.publicKey,
      signingKey: caKeys.privateKey,
      signingAlgorithm: EC,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension([
          { type: 'ip', value: '127.0.0.1' },
          { type: 'dns', value: 'localhost' },
        ]),
        await x509.SubjectKeyIdentifierExtension.create(serverKeys.publicKey, false, crypto),
        await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey, false, crypto),
      ],
    },
    crypto,
  );

  const pkcs8 = await crypto.subtle.exportKey('pkcs8', serverKeys.privateKey);
  return { caPem: ca.toString('pem'), certPem: server.toString('pem'), keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') };
}
