"""Notes: a FastAPI resource server whose users log in at jeton.

Swagger UI's Authorize dialog sends the user's username and password to jeton's /token
(the password grant) as jeton's public client; every protected route then asks jeton's
/introspect, as a resource-server client, whether the bearer token is live and which scopes
it carries. Nothing is cached, so a token revoked at jeton stops working at once.

Configuration (environment):
  JETON_URL               jeton's base URL, e.g. http://127.0.0.1:8080
  JETON_RS_CLIENT_ID      a confidential client with the introspect permission
  JETON_RS_CLIENT_SECRET  its secret
  JETON_APP_CLIENT_ID     the public client Swagger UI logs in as (its client must list this
                          app's origin with --cors-origin)
  SWAGGER_UI_DIR          npm's swagger-ui-dist (default: ./node_modules/swagger-ui-dist)

Run: /usr/bin/python3 -m uvicorn app:app --port 8000, then open http://127.0.0.1:8000/docs.
"""

import logging
import os
from pathlib import Path
from urllib.parse import quote

import httpx
from fastapi import Depends, FastAPI, HTTPException, Security, status
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.security import OAuth2PasswordBearer, SecurityScopes
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

JETON_URL = os.environ["JETON_URL"].rstrip("/")
RS_CLIENT_ID = os.environ["JETON_RS_CLIENT_ID"]
RS_CLIENT_SECRET = os.environ["JETON_RS_CLIENT_SECRET"]
APP_CLIENT_ID = os.environ.get("JETON_APP_CLIENT_ID", "")
SWAGGER_UI_DIR = Path(os.environ.get("SWAGGER_UI_DIR", Path(__file__).parent / "node_modules" / "swagger-ui-dist"))

log = logging.getLogger("notes")

SCOPES = {"read": "Read your notes", "write": "Add notes"}

# tokenUrl is jeton's: Swagger UI's password flow posts there directly, from the browser.
oauth2 = OAuth2PasswordBearer(tokenUrl=f"{JETON_URL}/token", scopes=SCOPES)

app = FastAPI(
    title="Notes",
    description="An example API whose users log in at jeton. Click **Authorize**, "
    "enter your username and password, pick scopes, then try a route.",
    docs_url=None,  # served below, from local files
    redoc_url=None,
)
app.mount("/static/swagger-ui", StaticFiles(directory=SWAGGER_UI_DIR), name="swagger-ui")

# One connection pool to jeton for the life of the app.
jeton = httpx.AsyncClient(base_url=JETON_URL, timeout=5.0)


@app.on_event("shutdown")
async def close_jeton() -> None:
    await jeton.aclose()


class Principal(BaseModel):
    """Who a live token speaks for, as jeton's introspection says."""

    sub: str
    username: str | None = None
    client_id: str
    tenant: str
    scopes: list[str]


class Note(BaseModel):
    text: str


async def introspect(token: str) -> dict:
    """Asks jeton about token (RFC 7662). jeton being down or refusing us is a 503, never
    a 401: a 401 would send every user back to the login screen."""
    # RFC 6749 §2.3.1: HTTP Basic with the form-urlencoded client_id and secret.
    auth = (quote(RS_CLIENT_ID, safe=""), quote(RS_CLIENT_SECRET, safe=""))
    try:
        r = await jeton.post("/introspect", data={"token": token}, auth=auth)
    except httpx.HTTPError as e:
        log.warning("introspection failed: %s", e)
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "authorization server unreachable",
                            headers={"Retry-After": "1"})
    if r.status_code != 200:
        log.error("introspection refused: %s %s", r.status_code, r.text)
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "authorization server refused introspection",
                            headers={"Retry-After": "1"})
    return r.json()


async def current_user(security_scopes: SecurityScopes, token: str = Depends(oauth2)) -> Principal:
    """The dependency every protected route uses: a live jeton token carrying every scope
    the route (and the dependencies above it) asks for, or 401/403 as RFC 6750 §3 says."""
    challenge = "Bearer"
    if security_scopes.scopes:
        challenge += f' scope="{security_scopes.scope_str}"'
    # Anything that is not a jeton access token is refused without asking jeton.
    info = await introspect(token) if token.startswith("jat_") else {"active": False}
    if not info.get("active"):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Invalid or expired token",
                            headers={"WWW-Authenticate": challenge + ', error="invalid_token"'})
    granted = info.get("scope", "").split()
    if any(s not in granted for s in security_scopes.scopes):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Not enough permissions",
                            headers={"WWW-Authenticate": challenge + ', error="insufficient_scope"'})
    return Principal(sub=info["sub"], username=info.get("username"), client_id=info["client_id"],
                     tenant=info["tenant"], scopes=granted)


# Each user's notes, in memory: enough for an example.
notes: dict[str, list[str]] = {}


@app.get("/me", response_model=Principal)
async def me(user: Principal = Security(current_user)) -> Principal:
    """Who the token speaks for. Any live token will do."""
    return user


@app.get("/notes", response_model=list[Note])
async def read_notes(user: Principal = Security(current_user, scopes=["read"])) -> list[Note]:
    """Your notes. Needs the `read` scope."""
    return [Note(text=t) for t in notes.get(user.sub, [])]


@app.post("/notes", response_model=Note, status_code=status.HTTP_201_CREATED)
async def add_note(note: Note, user: Principal = Security(current_user, scopes=["write"])) -> Note:
    """Adds a note. Needs the `write` scope."""
    notes.setdefault(user.sub, []).append(note.text)
    return note


@app.get("/docs", include_in_schema=False)
async def docs():
    """Swagger UI from local files, its Authorize dialog set up for jeton's public client."""
    return get_swagger_ui_html(
        openapi_url=app.openapi_url,
        title="Notes: Swagger UI",
        swagger_js_url="/static/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url="/static/swagger-ui/swagger-ui.css",
        swagger_favicon_url="/static/swagger-ui/favicon-32x32.png",
        init_oauth={"clientId": APP_CLIENT_ID, "appName": "Notes"},
    )
