-- Django's auth_user as jeton import lines (NDJSON), one a row. Run against the Django
-- database: psql -At -f django.sql "$DJANGO_DATABASE_URL" > django.ndjson
-- An unusable password ("!..." from set_unusable_password) becomes a user without one.
SELECT json_strip_nulls(json_build_object(
    'username', username,
    'password_hash', CASE WHEN password LIKE '!%' THEN NULL ELSE password END,
    'disabled', NOT is_active,
    'created_at', date_joined,
    'external_id', id::text
))
FROM auth_user
ORDER BY id;
