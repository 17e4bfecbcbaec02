// Decimal strings stay decimal: arithmetic on scaled BigInts, never on floats.
function parse(amount) {
  const [whole, fraction = ""] = String(amount).split(".");
  return { units: BigInt(whole + fraction), scale: fraction.length };
}

function format(units, scale) {
  const negative = units < 0n;
  const digits = (negative ? -units : units).toString().padStart(scale + 1, "0");
  const text = scale ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits;
  return negative ? `-${text}` : text;
}

// a - b, both decimal strings ("12.30" - "1.5" = "10.80").
export function subtract(a, b) {
  const x = parse(a);
  const y = parse(b);
  const scale = Math.max(x.scale, y.scale);
  const units = x.units * 10n ** BigInt(scale - x.scale) - y.units * 10n ** BigInt(scale - y.scale);
  return format(units, scale);
}
