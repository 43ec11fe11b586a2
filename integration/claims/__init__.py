"""Claim submission: 837P batches to the clearinghouse, and what comes back (999, 277CA, 835).

`submit.submit_claims` / `submit.send_stored` / `submit.poll` are the use cases,
`repository.ClaimsStore` their database side, `cli.claims_command` the `dermrcm claims` group.
"""
