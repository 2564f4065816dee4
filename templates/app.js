// The bitonal page: uploads with progress, live status, side-by-side results, a gallery.
// Plain DOM, no framework: every user-supplied string goes in through textContent or an
// attribute, never innerHTML, so a filename can never become markup.

const $ = (selector, root = document) => root.querySelector(selector);
const maxUploadBytes = Number(document.body.dataset.maxUploadBytes) || 20 * 1024 * 1024;
const maxDocumentBytes = Number(document.body.dataset.maxDocumentBytes) || 100 * 1024 * 1024;
/** PDF and TIFF files are documents: a limit of their own, and pages to page through. */
const isDocument = (file) => /^(application\/pdf|image\/tiff)$/.test(file.type) || /\.(pdf|tiff?)$/i.test(file.name);
const isPdf = (file) => file.type === "application/pdf" || /\.pdf$/i.test(file.name);
$("#storage-note").hidden = document.body.dataset.localEmulator !== "true";
const TOKEN_KEY = "bitonal.apiToken";

// ---------- small helpers ----------

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(bytes < 10 * 1024 ? 1 : 0)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** fetch with the API token, when one is set: with API_TOKEN every /api route needs it. */
function apiFetch(url, init = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const headers = new Headers(init.headers);
  if (token) headers.set("Authorization", `Bearer ${token}`);
  return fetch(url, { ...init, headers });
}

/** The API's problem+json, in plain words. */
function explainProblem(problem, status) {
  const type = (problem?.type ?? "").split("/").pop();
  switch (type) {
    case "unsupported-media-type":
      return "Not a PNG, JPEG, WebP, TIFF or PDF file.";
    case "payload-too-large":
      return problem?.detail ?? `Larger than ${formatBytes(maxUploadBytes)}.`;
    case "unprocessable-image":
      if (/pixels/.test(problem.detail ?? "")) return `Too many pixels: ${problem.detail}`;
      // A document's refusals say what is wrong (encrypted, too many pages) in words worth showing.
      return /encrypted|pages|PNG holds/.test(problem.detail ?? "") ? problem.detail : "The file is damaged.";
    case "unauthorized":
      return "The API token is missing or wrong (see “API token” above).";
    case "service-unavailable":
      return "Storage is unavailable right now; try again in a moment.";
    default:
      return problem?.detail ?? `The upload failed (HTTP ${status}).`;
  }
}

// ---------- the form ----------

const form = $("#upload-form");
const thresholdRow = $("#threshold-row");
const threshold = $("#threshold");
const tokenInput = $("#api-token");
$("#size-limit").textContent = formatBytes(maxUploadBytes);
$("#document-limit").textContent = formatBytes(maxDocumentBytes);
tokenInput.value = sessionStorage.getItem(TOKEN_KEY) ?? "";
tokenInput.addEventListener("input", () => sessionStorage.setItem(TOKEN_KEY, tokenInput.value.trim()));
// A token entered after the page loaded opens the gallery it guards.
tokenInput.addEventListener("change", () => loadGallery());

form.addEventListener("change", (event) => {
  if (event.target.name === "method") thresholdRow.hidden = form.elements.method.value !== "fixed";
});
threshold.addEventListener("input", () => {
  $("#threshold-value").textContent = threshold.value;
});

const fileInput = $("#file-input");
fileInput.addEventListener("change", () => {
  uploadAll([...fileInput.files]);
  fileInput.value = "";
});

const dropzone = $("#dropzone");
for (const type of ["dragenter", "dragover"]) {
  dropzone.addEventListener(type, (event) => {
    event.preventDefault();
    dropzone.classList.add("dragging");
  });
}
for (const type of ["dragleave", "drop"]) {
  dropzone.addEventListener(type, () => dropzone.classList.remove("dragging"));
}
dropzone.addEventListener("drop", (event) => {
  event.preventDefault();
  uploadAll([...event.dataTransfer.files]);
});

// ---------- uploads ----------

function uploadAll(files) {
  const method = form.elements.method.value;
  const format = form.elements.format.value;
  // Sent only when changed from the API's own default, and only for a PDF (the one it applies to).
  const dpi = form.elements.dpi.value;
  const geometry = { deskew: form.elements.deskew.checked ? "auto" : "off", borders: form.elements.borders.value };
  for (const file of files) {
    const pdfDpi = isPdf(file) && dpi && dpi !== "300" ? dpi : undefined;
    upload(file, method, method === "fixed" ? threshold.value : undefined, format, pdfDpi, geometry);
  }
}

function upload(file, method, fixedThreshold, format, dpi, geometry) {
  const progress = el("progress", { max: "100", value: "0", "aria-label": `Upload progress of ${file.name}` });
  const status = el("p", { class: "status", role: "status", text: "Uploading…" });
  const body = el("div", { class: "upload-body" });
  const card = el(
    "li",
    { class: "upload" },
    el("div", { class: "upload-head" }, el("strong", { class: "filename", text: file.name }), progress),
    status,
    body,
  );
  $("#uploads").prepend(card);

  const limit = isDocument(file) ? maxDocumentBytes : maxUploadBytes;
  if (file.size > limit) {
    fail(card, status, progress, `Refused: larger than ${formatBytes(limit)}.`);
    return;
  }

  const data = new FormData();
  data.set("image", file);
  data.set("method", method);
  if (fixedThreshold !== undefined) data.set("threshold", fixedThreshold);
  if (format) data.set("format", format);
  if (dpi) data.set("dpi", dpi);
  data.set("deskew", geometry.deskew);
  data.set("borders", geometry.borders);

  // XMLHttpRequest rather than fetch: fetch reports no upload progress.
  const request = new XMLHttpRequest();
  request.open("POST", "/api/images");
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) request.setRequestHeader("Authorization", `Bearer ${token}`);
  request.responseType = "json";
  request.upload.addEventListener("progress", (event) => {
    if (event.lengthComputable) progress.value = Math.round((event.loaded / event.total) * 100);
  });
  request.addEventListener("load", () => {
    if (request.status === 202) {
      progress.value = 100;
      status.textContent = "Queued…";
      card.dataset.id = request.response.id;
      watch(request.response.id, card, status, body);
    } else {
      fail(card, status, progress, `Refused: ${explainProblem(request.response, request.status)}`);
    }
  });
  request.addEventListener("error", () => fail(card, status, progress, "The upload failed: no connection."));
  request.send(data);
}

function fail(card, status, progress, message) {
  card.classList.add("failed");
  progress.hidden = true;
  status.textContent = message;
}

/** Polls the status with backoff until it is settled, then shows the result. */
async function watch(id, card, status, body) {
  let delay = 250;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 1.5, 3000);
    let image;
    try {
      const response = await apiFetch(`/api/images/${id}`);
      if (!response.ok) continue;
      image = await response.json();
    } catch {
      continue;
    }
    if (image.status === "queued") {
      const progress = image.document?.progress;
      status.textContent = progress ? `Processing: ${progress.done} of ${progress.total} pages done…` : "Processing…";
      continue;
    }
    if (image.status === "failed") {
      card.classList.add("failed");
      status.textContent = `Could not process: ${image.error?.message ?? "unknown error"}`;
    } else {
      body.replaceChildren(await (image.document ? renderDocument(image) : renderResult(image)));
      card.classList.add("done");
      $("progress", card).hidden = true;
      status.textContent = "Done.";
    }
    loadGallery();
    return;
  }
}

// ---------- a result: side by side, before/after, facts, download ----------

async function blobOf(url) {
  const response = await apiFetch(url);
  return response.ok ? response.blob() : undefined;
}

async function renderResult(image) {
  const node = $("#result-template").content.firstElementChild.cloneNode(true);
  const [original, processed] = await Promise.all([blobOf(image.links.original), blobOf(image.links.processed)]);
  const originalUrl = original ? URL.createObjectURL(original) : image.links.original;
  const processedUrl = processed ? URL.createObjectURL(processed) : image.links.processed;
  const name = image.filename || image.id;

  for (const [selector, url, alt] of [
    [".original", originalUrl, `Original: ${name}`],
    [".processed", processedUrl, `Black and white: ${name}`],
    [".compare-before", originalUrl, `Before: ${name}`],
    [".compare-after", processedUrl, `After: ${name}`],
  ]) {
    const img = $(selector, node);
    img.src = url;
    img.alt = alt;
    if (image.width && image.height) {
      img.width = image.width;
      img.height = image.height;
    }
  }

  const after = $(".compare-after", node);
  const slider = $(".compare-slider", node);
  const reveal = () => {
    after.style.clipPath = `inset(0 0 0 ${slider.value}%)`;
  };
  slider.addEventListener("input", reveal);
  reveal();

  const facts = [
    ["Method", describeMethod(image)],
    ["Threshold", image.threshold ?? "local (per pixel)"],
    ["Size", image.width && image.height ? `${image.width} × ${image.height} px` : "—"],
    ["Straightened", describeSkew(image.skew)],
    ["Frame", describeBorders(image.borders)],
    ["Original", original ? formatBytes(original.size) : "—"],
    ["Black and white", processed ? formatBytes(processed.size) : "—"],
  ];
  $(".facts", node).append(
    ...facts.flatMap(([term, value]) => [el("dt", { text: term }), el("dd", { text: String(value) })]),
  );

  const downloadName = `${name.replace(/\.[^.]*$/, "")}-bitonal.png`;
  $(".download-row", node).append(
    el("a", { class: "button download", href: processedUrl, download: downloadName, text: "Download PNG" }),
    deleteControl(image.id, name),
  );
  tryAnotherMethod(node, image, name);
  return node;
}

// ---------- a document: its pages, original and result side by side, one at a time ----------

const FORMAT_NAMES = { pdf: "PDF", tiff: "TIFF", png: "PNG" };
const FORMAT_EXTENSIONS = { pdf: "pdf", tiff: "tif", png: "png" };

async function renderDocument(image) {
  const node = $("#document-template").content.firstElementChild.cloneNode(true);
  const response = await apiFetch(image.links.pages).catch(() => undefined);
  const pages = response?.ok ? (await response.json()).items : [];
  const name = image.filename || image.id;
  const original = $(".original", node);
  const processed = $(".processed", node);
  const counter = $(".page-counter", node);
  const previous = $(".page-previous", node);
  const next = $(".page-next", node);
  let current = 0;
  const show = async () => {
    const page = pages[current];
    counter.textContent = `Page ${current + 1} of ${pages.length}`;
    previous.disabled = current === 0;
    next.disabled = current >= pages.length - 1;
    const [before, after] = await Promise.all([blobOf(page.links.original), blobOf(page.links.processed)]);
    original.src = before ? URL.createObjectURL(before) : page.links.original;
    processed.src = after ? URL.createObjectURL(after) : page.links.processed;
    $(".page-geometry", node).textContent =
      `Page ${current + 1}: ${describeSkew(page.skew ?? null)}; frame: ${describeBorders(page.borders ?? null)}`;
    original.alt = `Original, page ${current + 1}: ${name}`;
    processed.alt = `Black and white, page ${current + 1}: ${name}`;
  };
  previous.addEventListener("click", () => {
    current = Math.max(0, current - 1);
    show();
  });
  next.addEventListener("click", () => {
    current = Math.min(pages.length - 1, current + 1);
    show();
  });
  if (pages.length > 0) await show();

  const { document: facts } = image;
  const format = FORMAT_NAMES[facts.format] ?? facts.format;
  const sizes =
    facts.bytes === null
      ? "—"
      : `${formatBytes(facts.bytes)} (the upload: ${formatBytes(facts.inputBytes)}${facts.largerThanInput ? "; larger than the upload" : ""})`;
  $(".facts", node).append(
    ...[
      ["Method", describeMethod(image)],
      ["Pages", String(facts.pages)],
      [format, sizes],
      ["Straightened", facts.pagesDeskewed === null ? "—" : `${facts.pagesDeskewed} of ${facts.pages} pages`],
      ["Frame found", facts.pagesFramed === null ? "—" : `on ${facts.pagesFramed} of ${facts.pages} pages`],
    ].flatMap(([term, value]) => [el("dt", { text: term }), el("dd", { text: value })]),
  );
  const download = `${name.replace(/\.[^.]*$/, "")}.bitonal.${FORMAT_EXTENSIONS[facts.format] ?? "bin"}`;
  $(".download-row", node).append(
    el("a", { class: "button download", href: image.links.processed, download, text: `Download ${format}` }),
    deleteControl(image.id, name),
  );
  return node;
}

/** "deskewed by 2.3° (found 2.3°, confidence 0.92)", "no skew found (…)", "level", or "off". */
function describeSkew(skew) {
  if (!skew) return "off";
  if (skew.angle === null) return `no skew found (${skew.reason ?? "nothing to measure"})`;
  const confidence = `confidence ${skew.confidence.toFixed(2)}`;
  if (skew.rotated === 0) return `level: ${skew.angle}° found, not turned (${confidence})`;
  return `deskewed by ${Math.abs(skew.rotated)}° ${skew.rotated < 0 ? "counter-clockwise" : "clockwise"} (${confidence})`;
}

/** "cleaned at 41/0/38/12 px (top/right/bottom/left)", "none found", or "kept". */
function describeBorders(borders) {
  if (!borders) return "kept";
  const { top, right, bottom, left, action } = borders;
  if (top + right + bottom + left === 0) return "none found";
  return `${action === "crop" ? "cut away" : "cleaned"} at ${top}/${right}/${bottom}/${left} px (top/right/bottom/left)`;
}

/** "auto → document: uneven background", or just the method when nothing was chosen. */
function describeMethod(image) {
  if (image.method === "auto" && image.appliedMethod) {
    return `auto → ${image.appliedMethod}${image.reason ? `: ${image.reason}` : ""}`;
  }
  return image.method ?? "—";
}

// ---------- renditions: another method on the same upload, side by side ----------

function tryAnotherMethod(node, image, name) {
  const form = $(".try-another", node);
  const list = $(".renditions", node);
  const thresholdLabel = $(".try-threshold", node);
  const status = $(".try-status", node);
  const shown = new Map();
  const show = (rendition) => {
    const item = shown.get(rendition.rendition) ?? el("li", { class: "rendition" });
    if (!shown.has(rendition.rendition)) {
      shown.set(rendition.rendition, item);
      list.append(item);
    }
    renderRendition(item, rendition, name);
    return item;
  };
  form.elements.method.addEventListener("change", () => {
    thresholdLabel.hidden = form.elements.method.value !== "fixed";
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const method = form.elements.method.value;
    const body = { method };
    if (method === "fixed") body.threshold = Number(form.elements.threshold.value);
    status.textContent = "Queued…";
    const response = await apiFetch(`/api/images/${image.id}/renditions`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    }).catch(() => undefined);
    if (!response || (response.status !== 200 && response.status !== 202)) {
      const problem = await response?.json().catch(() => undefined);
      status.textContent = `Refused: ${problem?.detail ?? "no connection"}`;
      return;
    }
    status.textContent = "";
    const rendition = await response.json();
    show(rendition);
    if (rendition.status === "queued") show(await settle(rendition.links.self));
  });
  // Renditions asked for earlier (in this tab or another), shown as they are or as they settle.
  apiFetch(`/api/images/${image.id}/renditions`)
    .then((response) => (response.ok ? response.json() : { items: [] }))
    .then(async ({ items }) => {
      for (const rendition of items) show(rendition);
      for (const rendition of items.filter((r) => r.status === "queued")) show(await settle(rendition.links.self));
    })
    .catch(() => {});
}

/** Polls a status URL with backoff until it is no longer queued. */
async function settle(url) {
  let delay = 250;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 1.5, 3000);
    const response = await apiFetch(url).catch(() => undefined);
    if (!response?.ok) continue;
    const status = await response.json();
    if (status.status !== "queued") return status;
  }
}

async function renderRendition(item, rendition, name) {
  const caption = el("figcaption", { text: describeMethod(rendition) });
  if (rendition.status === "queued") {
    item.replaceChildren(el("figure", {}, el("p", { class: "badge queued", text: "processing…" }), caption));
    return;
  }
  if (rendition.status === "failed") {
    item.replaceChildren(
      el("figure", {}, el("p", { class: "badge failed", text: rendition.error?.message ?? "failed" }), caption),
    );
    return;
  }
  const blob = await blobOf(rendition.links.processed);
  const url = blob ? URL.createObjectURL(blob) : rendition.links.processed;
  const img = el("img", { src: url, alt: `${rendition.rendition}: ${name}` });
  const download = el("a", {
    class: "quiet",
    href: url,
    download: `${name.replace(/\.[^.]*$/, "")}-${rendition.rendition}.png`,
    text: "Download",
  });
  item.replaceChildren(el("figure", {}, img, caption, download));
}

/**
 * "Delete", then an in-page confirmation (no window.confirm: a dialog the page cannot style
 * or test), then the image is gone from the card, the viewer and the gallery.
 */
function deleteControl(id, name) {
  const wrapper = el("span", { class: "delete-control" });
  const ask = el("button", { type: "button", class: "quiet delete", text: "Delete" });
  const confirm = el("button", { type: "button", class: "danger confirm-delete", text: `Delete ${name} for good` });
  const cancel = el("button", { type: "button", class: "quiet", text: "Keep it" });
  const message = el("span", { class: "delete-status", role: "status" });
  const choose = (asking) => {
    ask.hidden = asking;
    confirm.hidden = cancel.hidden = !asking;
  };
  choose(false);
  ask.addEventListener("click", () => choose(true));
  cancel.addEventListener("click", () => choose(false));
  confirm.addEventListener("click", async () => {
    confirm.disabled = true;
    const response = await apiFetch(`/api/images/${id}`, { method: "DELETE" }).catch(() => undefined);
    if (response?.status !== 204) {
      confirm.disabled = false;
      message.textContent = "Could not delete; try again.";
      return;
    }
    document.querySelector(`.upload[data-id="${id}"]`)?.remove();
    if (viewer.open) viewer.close();
    loadGallery();
  });
  wrapper.append(ask, confirm, cancel, message);
  return wrapper;
}

// ---------- the gallery ----------

const gallery = $("#gallery");
const more = $("#gallery-more");
let nextCursor = null;

async function loadGallery(cursor = null) {
  const query = new URLSearchParams({ limit: "12" });
  if (cursor) query.set("cursor", cursor);
  let page;
  try {
    const response = await apiFetch(`/api/images?${query}`);
    if (!response.ok) return;
    page = await response.json();
  } catch {
    return;
  }
  const cards = page.items.map(galleryCard);
  if (cursor) gallery.append(...cards);
  else gallery.replaceChildren(...cards);
  nextCursor = page.nextCursor;
  more.hidden = !nextCursor;
  $("#gallery-empty").hidden = gallery.children.length > 0;
}

function galleryCard(image) {
  const name = image.filename || image.id;
  const button = el("button", { type: "button", class: "thumb", "aria-label": `Open ${name}` });
  if (image.status === "done") {
    // A document's thumbnail is its first page.
    const src = image.links.cover ?? image.links.processed;
    button.append(el("img", { src, alt: `Black and white: ${name}`, loading: "lazy" }));
  } else {
    button.append(el("span", { class: `badge ${image.status}`, text: image.status }));
  }
  button.append(el("span", { class: "thumb-name", text: name }));
  button.addEventListener("click", () => openViewer(image));
  return el("li", {}, button);
}

const viewer = $("#viewer");
async function openViewer(image) {
  $("#viewer-title").textContent = image.filename || image.id;
  const body = $("#viewer-body");
  if (image.status === "done") {
    body.replaceChildren(await (image.document ? renderDocument(image) : renderResult(image)));
  } else if (image.status === "failed") {
    body.replaceChildren(el("p", { text: `Could not process: ${image.error?.message ?? "unknown error"}` }));
  } else {
    body.replaceChildren(el("p", { text: "Still processing; try again in a moment." }));
  }
  viewer.showModal();
}
$("#viewer-close").addEventListener("click", () => viewer.close());
more.addEventListener("click", () => loadGallery(nextCursor));
$("#gallery-refresh").addEventListener("click", () => loadGallery());

loadGallery();
