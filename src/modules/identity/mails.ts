/**
 * The identity module's mails. Plain text first (every client shows it), with a small HTML part.
 *
 * The reset link carries its token in the URL fragment (`…#token=…`): browsers and apps never send
 * a fragment to a server, so the token cannot land in an access log, a proxy's or a CDN's, when
 * someone opens the link; the page (or the app) reads it and posts it to password-reset/confirm/.
 */
import type { Config } from '../../platform/config.ts';

export const RESET_TOKEN_MINUTES = 30;

/** Where reset links point: APP_RESET_URL (an app's deep link), else PUBLIC_URL/reset-password. */
export function resetLinkBase(config: Config): string {
  if (config.mail.appResetUrl) return config.mail.appResetUrl;
  const origin = config.http.publicUrl ?? `http://localhost:${config.http.port}`;
  return `${origin.replace(/\/+$/, '')}/reset-password`;
}

export function resetLink(base: string, token: string): string {
  return `${base}${base.includes('#') ? '&' : '#'}token=${token}`;
}

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export function passwordResetMail(username: string, link: string) {
  const subject = 'Reset your password';
  const text = [
    `Hello ${username},`,
    '',
    'Someone, hopefully you, asked to reset the password of your account.',
    `Open this link within ${RESET_TOKEN_MINUTES} minutes to choose a new one:`,
    '',
    link,
    '',
    'The link works once. If you did not ask for this, ignore this mail: your password stays as it is.',
  ].join('\n');
  const html = [
    `<p>Hello ${escapeHtml(username)},</p>`,
    '<p>Someone, hopefully you, asked to reset the password of your account.',
    `Open this link within ${RESET_TOKEN_MINUTES} minutes to choose a new one:</p>`,
    `<p><a href="${escapeHtml(link)}">Choose a new password</a></p>`,
    '<p>The link works once. If you did not ask for this, ignore this mail: your password stays as it is.</p>',
  ].join('\n');
  return { subject, text, html };
}

/** To the old address after an email change: the owner learns of a takeover while it can still act. */
export function emailChangedMail(username: string, newEmail: string) {
  const subject = 'The email address of your account was changed';
  const lines = [
    `The email address of the account ${username} was changed to ${newEmail}.`,
    'Mails about this account, password-reset links included, now go there; any reset link sent here before no longer works.',
    'If you did not make this change, contact us at once: someone else may be using your account.',
  ];
  const text = [`Hello ${username},`, '', ...lines].join('\n');
  const html = [`<p>Hello ${escapeHtml(username)},</p>`, ...lines.map((l) => `<p>${escapeHtml(l)}</p>`)].join('\n');
  return { subject, text, html };
}
