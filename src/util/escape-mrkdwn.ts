/** Slack mrkdwn gives `&`, `<` and `>` meaning: text from outside has them escaped, so `<!channel>` stays text. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
