"""The public REST API: routes, OpenAPI document and JSON mapping derived at start-up from the
`google.api.http` annotations of the services it fronts; bearer API keys; AIP-193 JSON errors."""
