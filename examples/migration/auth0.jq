# Auth0's password hash export (NDJSON, one user a line, as Auth0 support delivers it) as
# jeton import lines: jq -c -f auth0.jq auth0-export.ndjson > auth0.ndjson
{
  username: .email,
  password_hash: .passwordHash,
  created_at: .password_set_date."$date",
  external_id: ("auth0|" + ._id."$oid")
}
