// Shared by the portal's pages: the session (user + CSRF token) and JSON calls that carry the token.
'use strict';
const portal = {
  csrf: null,
  async session() {
    const response = await fetch('/api/session', { credentials: 'same-origin' });
    if (response.status === 401) { location.href = '/login?ReturnUrl=' + encodeURIComponent(location.pathname); throw new Error('no session'); }
    const session = await response.json();
    portal.csrf = session.csrfToken;
    return session;
  },
  async call(method, url, body) {
    const response = await fetch(url, {
      method, credentials: 'same-origin',
      headers: { 'X-CSRF-TOKEN': portal.csrf, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 401) { location.href = '/login?ReturnUrl=' + encodeURIComponent(location.pathname); throw new Error('no session'); }
    if (!response.ok) throw new Error((await response.text()) || response.statusText);
    return response.status === 204 ? null : response.json();
  },
  text(tag, text, className) { const e = document.createElement(tag); e.textContent = text; if (className) e.className = className; return e; },
};
