"""The sandbox EHR: a SMART authorization server and a read-only FHIR R4 server over a folder of
FHIR JSON, behaving like Epic where a SMART app notices (PKCE S256 required, `aud` checked,
opaque launch tokens, EHR launch in an iframe, patient-compartment tokens).

Modules:

- `config`: SandboxConfig / SandboxClient, `fhir_base()`
- `app`: `create_sandbox_app(config)`; `server`: `serve_in_thread`, `start_sandbox`, RunningServer
- `store`: loading and indexing the data folder; `searchparams`: what each type can search;
  `search`: parameters -> Bundle; `dates`: FHIR date ranges and prefixes
- `oauth`, `tokens`, `scopes`: the authorization server (authlib), what it remembers, and what
  granted scopes allow; `auth_views`, `fhir_api`, `ehr_views`: the HTTP routes
- `cli`: `dermrcm sandbox`
"""
