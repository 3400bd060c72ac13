// Upload from any device (docs/SERVE.md, "Upload"): files, a whole folder, a portal ZIP or an
// .iso are staged on the server in chunks (resumable: on a failed chunk the page asks the
// server how much arrived and goes on from there), then imported by the same importers as
// `ownscan import`. The page shows the progress and every file's outcome.

import { escapeControls } from "./text.js";
import { ApiError, api } from "./api.js";
import { el } from "./viewer.js";

const RETRIES = 5;

// Files of a drop, folders walked (webkitGetAsEntry), with their relative paths.
export async function droppedFiles(dataTransfer) {
  const items = [...(dataTransfer.items || [])];
  const entries = items.map((i) => (i.webkitGetAsEntry ? i.webkitGetAsEntry() : null));
  if (!entries.some(Boolean)) return [...dataTransfer.files].map((f) => ({ file: f, path: f.name }));
  const out = [];
  async function walk(entry, prefix) {
    if (!entry) return;
    if (entry.isFile) {
      const file = await new Promise((res, rej) => entry.file(res, rej));
      out.push({ file, path: prefix + entry.name });
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (;;) {
        const batch = await new Promise((res, rej) => reader.readEntries(res, rej));
        if (!batch.length) break;
        for (const e of batch) await walk(e, `${prefix}${entry.name}/`);
      }
    }
  }
  for (const e of entries) await walk(e, "");
  return out;
}

export function filesOfInput(input) {
  return [...input.files].map((f) => ({ file: f, path: f.webkitRelativePath || f.name }));
}

async function putChunk(uploadId, n, offset, blob) {
  return api.json(`/api/uploads/${uploadId}/files/${n}?offset=${offset}`, {
    method: "PUT", headers: { "Content-Type": "application/octet-stream" }, body: blob,
  });
}

// An upload cut by a reload (or a closed tab's restore) goes on where it stopped when the
// same files are chosen again: the staged upload's id is kept in this tab's sessionStorage,
// under the files' names, sizes and dates, until its import starts; the server says how much
// of each file it has (GET /api/uploads/{id}). An id the server no longer knows (finished,
// expired, another server) starts a new upload.
const RESUME = "ownscan-upload:";

function resumeKey(items) {
  return RESUME + JSON.stringify(items.map(({ file, path }) => [path, file.size, file.lastModified || 0]));
}

async function resumable(items, spec) {
  const key = resumeKey(items);
  let kept = null;
  try {
    kept = JSON.parse(sessionStorage.getItem(key) || "null");
  } catch {
    kept = null; // storage refused (private mode): a new upload
  }
  if (kept && kept.id) {
    try {
      const status = await api.json(`/api/uploads/${encodeURIComponent(kept.id)}`);
      if (!status.importing && (status.files || []).length === items.length) {
        return { id: kept.id, chunk: kept.chunk, key, received: items.map((_, n) => receivedOf(status, n)) };
      }
    } catch {
      // gone: start again
    }
  }
  const { upload_id: id, chunk_size: chunk } = await api.post("/api/uploads", { files: spec });
  try {
    sessionStorage.setItem(key, JSON.stringify({ id, chunk }));
  } catch {
    // no storage: this upload cannot outlive a reload, and works as before
  }
  return { id, chunk, key, received: items.map(() => 0) };
}

// whether this tab holds an upload that a reload cut short
function cutShort() {
  try {
    for (let i = 0; i < sessionStorage.length; i++) if (sessionStorage.key(i).startsWith(RESUME)) return true;
  } catch {
    // no storage
  }
  return false;
}

function forget(key) {
  try {
    sessionStorage.removeItem(key);
  } catch {
    // no storage: nothing kept
  }
}

// Send every file in chunks; onProgress(sentBytes, totalBytes). Returns the upload id.
export async function sendFiles(items, onProgress) {
  const spec = items.map(({ file, path }) => ({ name: file.name, size: file.size, relative_path: path }));
  const { id, chunk, key, received } = await resumable(items, spec);
  const total = items.reduce((s, i) => s + i.file.size, 0);
  let done = received.reduce((a, b) => a + b, 0);
  if (done) onProgress(done, total);
  for (let n = 0; n < items.length; n++) {
    const file = items[n].file;
    let offset = received[n];
    if (offset >= file.size && file.size > 0) continue; // already there before the reload
    let failures = 0;
    let first = true; // an empty file still sends one (empty) chunk
    while (first || offset < file.size) {
      const end = Math.min(file.size, offset + chunk);
      try {
        const { received } = await putChunk(id, n, offset, file.slice(offset, end));
        done += received - offset;
        offset = received;
        first = false;
        failures = 0;
        onProgress(done, total);
      } catch (e) {
        if (e instanceof ApiError && e.status === 404) forget(key); // gone: the next pick starts anew
        // a refusal (bad request, too large) is final; a lost connection is retried
        if (e instanceof ApiError && e.status >= 400 && e.status < 500 && e.status !== 409) throw e;
        failures += 1;
        if (failures > RETRIES) throw e;
        await new Promise((r) => setTimeout(r, 500 * failures));
        // resume where the server says this file stands
        const got = receivedOf(await api.json(`/api/uploads/${id}`), n);
        done += got - offset;
        offset = got;
      }
    }
  }
  forget(key); // all sent: the import follows
  return id;
}

function receivedOf(status, n) {
  const files = status.files || status.received || [];
  const f = files[n];
  if (typeof f === "number") return f;
  return f ? f.received || 0 : 0;
}

// Import a staged upload and follow the job; onProgress(done, total). Returns the job.
export async function importUpload(id, onProgress) {
  const { job_id: job } = await api.post(`/api/uploads/${id}/import`, {});
  for (;;) {
    const state = await api.json(`/api/jobs/${job}`);
    if (state.progress) onProgress(state.progress[0], state.progress[1]);
    if (state.state !== "running" && state.state !== "queued") return state;
    await new Promise((r) => setTimeout(r, 400));
  }
}

// The upload panel: a drop zone, buttons for files / a folder, progress and outcomes.
export function uploadPanel(onImported) {
  const panel = el("section", "upload");
  panel.innerHTML = `
    <h2>Add scans</h2>
    <p class="hint">Drop files here: a CD's folder, a portal ZIP, a disc image (.iso) or DICOM files.</p>
    <div class="drop">
      <label class="pick">Choose files<input type="file" multiple class="files-input"></label>
      <label class="pick">Choose a folder<input type="file" webkitdirectory multiple class="folder-input"></label>
    </div>
    <div class="progress" hidden><progress max="1" value="0"></progress><span class="progress-text"></span></div>
    <p class="upload-message" role="status"></p>
    <ul class="outcomes"></ul>`;
  const drop = panel.querySelector(".drop");
  const bar = panel.querySelector("progress");
  const text = panel.querySelector(".progress-text");
  const message = panel.querySelector(".upload-message");
  const list = panel.querySelector(".outcomes");
  let busy = false;
  if (cutShort()) {
    message.textContent = "An upload was cut short when the page was left: choose the same files again and it goes on where it stopped.";
  }

  async function run(items) {
    if (busy || !items.length) return;
    busy = true;
    panel.classList.add("busy");
    list.innerHTML = "";
    message.className = "upload-message";
    panel.querySelector(".progress").hidden = false;
    try {
      const mb = (b) => (b / 1048576).toFixed(1);
      const id = await sendFiles(items, (d, t) => {
        bar.value = t ? d / t : 1;
        text.textContent = `Sending ${mb(d)} of ${mb(t)} MB`;
      });
      text.textContent = "Importing…";
      bar.removeAttribute("value");
      const job = await importUpload(id, (d, t) => {
        bar.value = t ? d / t : 0;
        text.textContent = `Importing ${d} of ${t}`;
      });
      bar.value = 1;
      const results = job.results || [];
      for (const r of results) {
        const li = el("li", `outcome ${r.status}`);
        li.textContent = escapeControls(`${r.name}: ${r.status}${r.reason ? ` (${r.reason})` : ""}`);
        list.append(li);
      }
      const count = (s) => results.filter((r) => r.status === s).length;
      const imported = count("imported") + count("document"); // a report is added too
      if (job.state === "failed") {
        message.textContent = escapeControls(`Nothing was added: ${job.error || "the import failed"}`);
        message.classList.add("error");
      } else if (!imported && !count("duplicate")) {
        message.textContent = "Nothing was added: no readable scans in what was sent.";
        message.classList.add("error");
      } else {
        // files that were not added among those that were: said here, not only in the list
        const left = results.length - imported - count("duplicate");
        message.textContent = `Added ${imported} file(s)` + (count("duplicate") ? `, ${count("duplicate")} already in the library` : "") + (left ? `; ${left} not added (why: in the list below)` : "") + ".";
        message.classList.add("ok");
        if (left) message.classList.add("partly"); // in orange
      }
      text.textContent = "";
      onImported();
    } catch (e) {
      message.textContent = escapeControls(`Upload failed: ${e.message}`);
      message.classList.add("error");
      text.textContent = "";
    } finally {
      busy = false;
      panel.classList.remove("busy");
    }
  }

  for (const input of panel.querySelectorAll("input[type=file]")) {
    input.addEventListener("change", () => {
      const items = filesOfInput(input);
      input.value = "";
      run(items);
    });
  }
  drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", async (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    run(await droppedFiles(e.dataTransfer));
  });
  return panel;
}
