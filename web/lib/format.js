// Small pure formatting helpers for the views (time, relative time, connection status).

/** "14:05" for today, "Mon 14:05" within a week, else "3 Nov 2026, 14:05" (viewer's locale and zone). */
export function formatTime(ts, now = Date.now(), locale = undefined) {
  const date = new Date(ts);
  if (!Number.isFinite(date.getTime())) return "";
  const time = date.toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit" });
  const today = new Date(now);
  if (date.toDateString() === today.toDateString()) return time;
  if (Math.abs(now - ts) < 6 * 86400000) return `${date.toLocaleDateString(locale, { weekday: "short" })} ${time}`;
  return `${date.toLocaleDateString(locale, { day: "numeric", month: "short", year: "numeric" })}, ${time}`;
}

/** "just now", "5 min ago", "3 h ago", "2 d ago"; accepts ms or ISO strings; "" when unknown. */
export function relativeTime(value, now = Date.now()) {
  if (value === null || value === undefined || value === "") return "";
  const ts = typeof value === "number" ? (value < 1e12 ? value * 1000 : value) : Date.parse(value);
  if (!Number.isFinite(ts)) return "";
  const seconds = Math.max(0, Math.round((now - ts) / 1000));
  if (seconds < 60) return "just now";
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} d ago`;
}

/** The connection status as the user reads it. */
export function statusLabel(status, retryAt = null, now = Date.now()) {
  switch (status) {
    case "connecting":
      return "Connecting…";
    case "live":
      return "Live";
    case "reconnecting": {
      const seconds = retryAt === null ? 0 : Math.max(0, Math.ceil((retryAt - now) / 1000));
      return seconds > 0 ? `Reconnecting in ${seconds} s` : "Reconnecting…";
    }
    case "offline":
      return "Offline";
    case "stopped":
      return "Disconnected";
    default:
      return "";
  }
}

export function plural(count, one, many = `${one}s`) {
  return `${count} ${count === 1 ? one : many}`;
}
