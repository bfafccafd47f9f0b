// The brand's live event stream (SSE). The browser's EventSource reconnects by itself and
// sends Last-Event-ID, so the server replays what was missed; if the stream is closed for
// good (e.g. the server restarted and refused once), it is opened again with the last id.

/** Every event kind the desk reacts to. */
export const KINDS = [
  "conversation.opened",
  "conversation.updated",
  "conversation.offered",
  "message.created",
  "message.updated",
  "message.unsent",
  "media.updated",
  "timeline",
  "contact.friend_status",
  "contact.updated",
];

/**
 * Opens the stream of `brand`, starting after `lastEventId`. `onEvent(kind, row)` gets each
 * event (row: {id, conversation_id, kind, payload}); `onStatus("live" | "offline")` the
 * connection state.
 */
export function connect(brand, lastEventId, onEvent, onStatus) {
  let last = Number(lastEventId) || 0;
  let delay = 1000;
  let source = null;

  const open = () => {
    source = new EventSource(`/api/v1/brands/${brand}/events?last_event_id=${last}`);
    source.addEventListener("open", () => {
      delay = 1000;
      onStatus("live");
    });
    for (const kind of KINDS) {
      source.addEventListener(kind, (event) => {
        const id = Number(event.lastEventId);
        if (id > last) last = id;
        let row = null;
        try {
          row = JSON.parse(event.data);
        } catch {
          return;
        }
        onEvent(kind, row);
      });
    }
    source.addEventListener("error", () => {
      onStatus("offline");
      if (source.readyState === EventSource.CLOSED) {
        setTimeout(open, delay);
        delay = Math.min(delay * 2, 30000);
      }
    });
  };
  open();
  return { close: () => source?.close() };
}
