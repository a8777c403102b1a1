// Credentials never reach logs or the JSON summary: user:password and signature-like
// query values are removed from URLs before they are printed.
const SECRET_QUERY_PARAM = /sig|token|secret|passw|credential|key|auth|session|policy/i;

/** The URL without userinfo, and with credential-looking query values replaced. */
export function redactUrl(input: string | URL): string {
  let url: URL;
  try {
    url = new URL(String(input));
  } catch {
    return "<invalid URL>";
  }
  url.username = "";
  url.password = "";
  for (const name of new Set(url.searchParams.keys())) {
    if (SECRET_QUERY_PARAM.test(name)) url.searchParams.set(name, "REDACTED");
  }
  return url.href;
}
