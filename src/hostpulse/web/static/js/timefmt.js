// Time labels for chart axes and legends, in the browser's local time. The finer the
// tick step, the more of the clock a label shows: "14:05:30", "14:05", "Dec 1".
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const two = (n) => String(n).padStart(2, "0");

export function clock(epoch, seconds = true) {
  const d = new Date(epoch * 1000);
  const hm = `${two(d.getHours())}:${two(d.getMinutes())}`;
  return seconds ? `${hm}:${two(d.getSeconds())}` : hm;
}

export function day(epoch) {
  const d = new Date(epoch * 1000);
  return `${MONTHS[d.getMonth()]} ${d.getDate()}`;
}

/** An axis label for a tick ``incr`` seconds from the next one. */
export function tickText(epoch, incr) {
  if (incr >= 86400) return day(epoch);
  const d = new Date(epoch * 1000);
  if (incr >= 60) return d.getHours() === 0 && d.getMinutes() === 0 ? day(epoch) : clock(epoch, false);
  return clock(epoch, true);
}

/** A moment as the legend shows it: with the date when the chart spans more than a day. */
export function momentText(epoch, span) {
  if (epoch === null || epoch === undefined) return "–";
  return span > 86400 ? `${day(epoch)} ${clock(epoch, false)}` : clock(epoch, true);
}

/** "Dec 1 14:05 – Dec 2 14:05" for a window. */
export function windowText(since, until) {
  const sameDay = day(since) === day(until);
  return `${day(since)} ${clock(since, false)} – ${sameDay ? "" : `${day(until)} `}${clock(until, false)}`;
}
