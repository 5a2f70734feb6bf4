// Copyright 2026 the Reaper authors. MIT license.
// A self-signed certificate for localhost and 127.0.0.1, made with openssl;
// shared by the tests that serve HTTPS.

/**
 * Writes `cert.pem` and `key.pem` into `dir`: a P-256 end-entity certificate
 * (rustls refuses a CA certificate as a server's own) valid for a day.
 */
export async function writeSelfSigned(
  dir: string,
): Promise<{ certFile: string; keyFile: string }> {
  const certFile = `${dir}/cert.pem`;
  const keyFile = `${dir}/key.pem`;
  const { success, stderr } = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
      "-addext",
      "basicConstraints=critical,CA:FALSE",
      "-keyout",
      keyFile,
      "-out",
      certFile,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!success) {
    throw new Error(
      `openssl failed: ${new TextDecoder().decode(stderr).trim()}`,
    );
  }
  return { certFile, keyFile };
}

/** A self-signed certificate and its key, as PEM text. */
export async function selfSigned(): Promise<{ cert: string; key: string }> {
  const dir = await Deno.makeTempDir();
  try {
    const { certFile, keyFile } = await writeSelfSigned(dir);
    return {
      cert: await Deno.readTextFile(certFile),
      key: await Deno.readTextFile(keyFile),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
