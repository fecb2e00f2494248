// The search page of the retrieval server: talks to its REST/JSON gateway
// (POST /v1/search, GET /v1/modelInfo, GET /v1/images/<name>), in the proto3
// JSON mapping of retrieval.v1 (lowerCamelCase names, enums by name, 64-bit
// integers as strings, bytes as base64 except the query text, which the
// gateway takes as a plain string). Everything it needs is served by the
// server itself; nothing is loaded from elsewhere.
//
// The bearer token, when the server asks for one (HTTP 401), is kept in
// sessionStorage and sent as "Authorization: Bearer <token>". Thumbnails are
// fetched with fetch() so that the header goes with them, and shown as blob
// URLs.
"use strict";

(function () {
  const THUMB_SIZE = 160;
  const MAX_RANK = 1000;  // offset + top_k may not exceed it (retrieval.proto)
  const CATEGORY_LABELS = {
    CATEGORY_UNSPECIFIED: "unspecified",
    CATEGORY_PEDESTRIAN: "pedestrian",
    CATEGORY_VEHICLE: "vehicle",
    CATEGORY_AUTO: "auto",
  };

  const $ = (id) => document.getElementById(id);
  const el = {
    form: $("search-form"),
    text: $("query-text"),
    category: $("category"),
    version: $("model-version"),
    pageSize: $("page-size"),
    filters: $("attribute-filters"),
    filterCount: $("filter-count"),
    vehicleFilters: $("vehicle-filters"),
    pedestrianFilters: $("pedestrian-filters"),
    color: $("filter-vehicle-color"),
    type: $("filter-vehicle-type"),
    brand: $("filter-vehicle-brand"),
    flags: $("filter-pedestrian-flags"),
    clearFilters: $("clear-filters"),
    tokenBox: $("token-box"),
    tokenForm: $("token-form"),
    token: $("token"),
    error: $("error"),
    modelInfo: $("model-info"),
    summary: $("query-summary"),
    results: $("results"),
    pager: $("pager"),
    prev: $("prev-page"),
    next: $("next-page"),
    pageInfo: $("page-info"),
  };

  const state = {
    token: sessionStorage.getItem("retrieval-token") || "",
    info: null,        // GetModelInfoResponse of the selected version
    query: null,       // {text} or {image (base64), imageName}
    offset: 0,
    blobUrls: [],      // thumbnails of the shown page, revoked on the next
    searches: 0,       // completed searches (data-searches on #results)
    generation: 0,     // drops answers of superseded requests
  };

  // ---- HTTP ---------------------------------------------------------------

  class ApiError extends Error {
    constructor(httpStatus, status, message) {
      super(message);
      this.httpStatus = httpStatus;
      this.status = status;
    }
  }

  function headers(extra) {
    const h = Object.assign({}, extra || {});
    if (state.token) h["Authorization"] = "Bearer " + state.token;
    return h;
  }

  // Turns a failed response into an ApiError carrying the server's message
  // ({"code": n, "status": "INVALID_ARGUMENT", "message": "..."}).
  async function failure(response) {
    let status = "HTTP " + response.status;
    let message = response.statusText || "request failed";
    try {
      const body = await response.json();
      if (body && body.status) status = body.status;
      if (body && body.message) message = body.message;
    } catch (e) {
      // Not JSON: keep the HTTP status line.
    }
    if (response.status === 401) showTokenBox();
    return new ApiError(response.status, status, message);
  }

  // `cache`: the fetch cache mode; gallery images may come from the
  // browser's cache (the server marks them cacheable), answers may not.
  async function send(method, path, body, cache) {
    let response;
    try {
      response = await fetch(path, {
        method: method,
        headers: headers(body === undefined ? {} : {"Content-Type": "application/json"}),
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: cache || "no-store",
      });
    } catch (e) {
      throw new ApiError(0, "UNAVAILABLE", "cannot reach the server (" + e.message + ")");
    }
    if (!response.ok) throw await failure(response);
    return response;
  }

  const postJson = async (path, body) => (await send("POST", path, body)).json();
  const getJson = async (path) => (await send("GET", path)).json();

  function imagePath(name, size) {
    const v = versionParam();
    return "/v1/images/" + encodeURIComponent(name) + "?model_version=" + v + "&size=" + size;
  }

  // ---- base64 -------------------------------------------------------------

  function bytesToBase64(bytes) {
    let binary = "";
    const chunk = 0x8000;
    for (let i = 0; i < bytes.length; i += chunk) {
      binary += String.fromCharCode.apply(null, bytes.subarray(i, i + chunk));
    }
    return btoa(binary);
  }

  // ---- messages -----------------------------------------------------------

  function showError(err) {
    const status = err.status ? err.status + ": " : "";
    el.error.textContent = status + err.message;
    el.error.dataset.status = err.status || "";
    el.error.hidden = false;
  }

  function clearError() {
    el.error.hidden = true;
    el.error.textContent = "";
    el.error.dataset.status = "";
  }

  function showTokenBox() {
    el.tokenBox.hidden = false;
    el.token.value = state.token;
    el.token.focus();
  }

  function setBusy(busy) {
    document.body.dataset.busy = busy ? "1" : "0";
    el.form.setAttribute("aria-busy", busy ? "true" : "false");
  }

  // ---- model info and filters ---------------------------------------------

  function versionParam() {
    return el.version.value || "0";
  }

  function fillSelect(select, words, anyLabel) {
    const previous = select.value;
    select.textContent = "";
    const any = document.createElement("option");
    any.value = "";
    any.textContent = anyLabel;
    select.appendChild(any);
    for (const word of words) {
      const option = document.createElement("option");
      option.value = word;
      option.textContent = word;
      select.appendChild(option);
    }
    select.value = words.includes(previous) ? previous : "";
  }

  function fillFlags(flags) {
    const previous = currentFlags();
    el.flags.textContent = "";
    for (const flag of flags) {
      const label = document.createElement("label");
      label.className = "flag";
      const select = document.createElement("select");
      select.dataset.flag = flag;
      select.id = "flag-" + flag.replace(/[^A-Za-z0-9_-]/g, "_");
      for (const [value, text] of [["", "any"], ["true", "yes"], ["false", "no"]]) {
        const option = document.createElement("option");
        option.value = value;
        option.textContent = text;
        select.appendChild(option);
      }
      if (flag in previous) select.value = String(previous[flag]);
      label.append(flag + " ", select);
      el.flags.appendChild(label);
    }
  }

  function currentFlags() {
    const flags = {};
    for (const select of el.flags.querySelectorAll("select[data-flag]")) {
      if (select.value) flags[select.dataset.flag] = select.value === "true";
    }
    return flags;
  }

  function describeInfo(info) {
    const parts = [
      (info.modelName || "model") + " version " + info.modelVersion,
      (info.numImages || "0") + " images (" + (info.numPedestrianImages || "0") +
        " pedestrians, " + (info.numVehicleImages || "0") + " vehicles)",
      "index " + (info.indexType || "?"),
    ];
    parts.push(info.hasAttributeHeads ? "attribute heads" : "no attribute heads");
    if (!info.imageQueries) parts.push("no image queries");
    return parts.join(" \u00b7 ");
  }

  async function loadModelInfo(version) {
    const info = await getJson("/v1/modelInfo?model_version=" + (version || "0"));
    state.info = info;
    const loaded = (info.loadedVersions || [info.modelVersion]).map(String);
    const selected = String(info.modelVersion);
    el.version.textContent = "";
    for (const v of loaded) {
      const option = document.createElement("option");
      option.value = v;
      option.textContent = v + (v === String(info.defaultVersion) ? " (default)" : "");
      el.version.appendChild(option);
    }
    el.version.value = selected;
    el.modelInfo.textContent = describeInfo(info);
    el.modelInfo.dataset.modelVersion = selected;

    const vocab = info.attributeVocabulary || {};
    const heads = Boolean(info.hasAttributeHeads);
    el.filters.hidden = !heads;
    fillSelect(el.color, heads ? vocab.vehicleColors || [] : [], "any");
    fillSelect(el.type, heads ? vocab.vehicleTypes || [] : [], "any");
    fillSelect(el.brand, heads ? vocab.vehicleBrands || [] : [], "any");
    fillFlags(heads ? vocab.pedestrianFlags || [] : []);
    el.vehicleFilters.hidden = !(vocab.vehicleColors || []).length;
    el.pedestrianFilters.hidden = !(vocab.pedestrianFlags || []).length;
    document.body.dataset.imageQueries = info.imageQueries ? "1" : "0";
    return info;
  }

  function currentFilter() {
    if (el.filters.hidden) return undefined;
    const filter = {};
    for (const select of [el.color, el.type, el.brand]) {
      if (select.value) filter[select.dataset.field] = select.value;
    }
    const flags = currentFlags();
    const conditions = Object.keys(filter).length + Object.keys(flags).length;
    el.filterCount.textContent = conditions ? "(" + conditions + " set)" : "";
    if (Object.keys(flags).length) filter.pedestrianFlags = flags;
    return conditions ? filter : undefined;
  }

  // ---- search -------------------------------------------------------------

  function pageSize() {
    return parseInt(el.pageSize.value, 10) || 10;
  }

  function buildRequest() {
    const topK = Math.min(pageSize(), MAX_RANK - state.offset);
    const request = {topK: topK, offset: state.offset};
    if (state.query.image !== undefined) {
      request.image = state.query.image;
    } else {
      request.text = state.query.text;
    }
    if (el.category.value) request.category = el.category.value;
    const version = versionParam();
    if (version !== "0") request.modelVersion = version;
    const filter = currentFilter();
    if (filter) request.filter = filter;
    return request;
  }

  async function runSearch() {
    if (!state.query) return;
    const generation = ++state.generation;
    clearError();
    setBusy(true);
    try {
      const request = buildRequest();
      const response = await postJson("/v1/search", request);
      if (generation !== state.generation) return;
      render(response, request);
    } catch (err) {
      if (generation !== state.generation) return;
      showError(err);
    } finally {
      if (generation === state.generation) setBusy(false);
    }
  }

  // What the version recorded of an image: its predicted attributes, led by
  // the predicted category when it is not the image's labelled one.
  function attributeText(attributes, category) {
    if (!attributes) return "";
    const words = [];
    if (attributes.category && attributes.category !== category) {
      words.push("predicted " + CATEGORY_LABELS[attributes.category]);
    }
    for (const key of ["vehicleColor", "vehicleType", "vehicleBrand"]) {
      if (attributes[key] && attributes[key] !== "none") words.push(attributes[key]);
    }
    for (const flag of attributes.pedestrianFlags || []) words.push(flag);
    return words.join(", ");
  }

  function releaseThumbnails() {
    for (const url of state.blobUrls) URL.revokeObjectURL(url);
    state.blobUrls = [];
  }

  async function loadThumbnail(img, name, generation) {
    try {
      const response = await send("GET", imagePath(name, THUMB_SIZE), undefined, "default");
      const blob = await response.blob();
      if (generation !== state.generation) return;
      const url = URL.createObjectURL(blob);
      state.blobUrls.push(url);
      img.addEventListener("load", () => { img.dataset.loaded = "1"; }, {once: true});
      img.addEventListener("error", () => { img.dataset.loaded = "error"; }, {once: true});
      img.src = url;
    } catch (err) {
      img.dataset.loaded = "error";
      img.alt = "thumbnail unavailable: " + err.message;
    }
  }

  function render(response, request) {
    releaseThumbnails();
    const hits = response.hits || [];
    const version = String(response.modelVersion || "");
    const candidates = Number(response.numCandidates || 0);
    const first = state.offset + 1;
    const generation = state.generation;
    el.results.textContent = "";
    el.results.dataset.modelVersion = version;
    el.results.dataset.offset = String(state.offset);
    el.results.start = first;
    hits.forEach((hit, i) => {
      const rank = first + i;
      const name = hit.imageName || "";
      const category = CATEGORY_LABELS[hit.category || "CATEGORY_UNSPECIFIED"] || hit.category;
      const li = document.createElement("li");
      li.className = "result-card";
      li.dataset.rank = String(rank);
      li.dataset.name = name;
      li.dataset.category = category;
      li.dataset.score = String(hit.score || 0);

      const figure = document.createElement("figure");
      const img = document.createElement("img");
      img.alt = category + " " + name;
      img.width = THUMB_SIZE;
      img.height = THUMB_SIZE;
      img.dataset.loaded = "0";
      figure.appendChild(img);
      const caption = document.createElement("figcaption");
      const head = document.createElement("div");
      head.className = "card-head";
      const rankEl = document.createElement("span");
      rankEl.className = "rank";
      rankEl.textContent = "#" + rank;
      const scoreEl = document.createElement("span");
      scoreEl.className = "score";
      scoreEl.title = "score (cosine similarity " + Number(hit.similarity || 0).toFixed(4) + ")";
      scoreEl.textContent = Number(hit.score || 0).toFixed(4);
      head.append(rankEl, scoreEl);
      const nameEl = document.createElement("div");
      nameEl.className = "name";
      nameEl.textContent = name;
      const categoryEl = document.createElement("div");
      categoryEl.className = "category cat-" + category;
      categoryEl.textContent = category;
      caption.append(head, nameEl, categoryEl);
      const attrs = attributeText(hit.attributes, hit.category || "CATEGORY_UNSPECIFIED");
      if (attrs) {
        const attrEl = document.createElement("div");
        attrEl.className = "attributes";
        attrEl.textContent = attrs;
        caption.appendChild(attrEl);
      }
      figure.appendChild(caption);
      li.appendChild(figure);

      const more = document.createElement("button");
      more.type = "button";
      more.className = "more-like-this";
      more.dataset.name = name;
      more.textContent = "More like this";
      more.setAttribute("aria-label", "More like " + name);
      more.disabled = document.body.dataset.imageQueries === "0";
      more.addEventListener("click", () => moreLikeThis(name));
      li.appendChild(more);
      el.results.appendChild(li);
      loadThumbnail(img, name, generation);
    });

    const routed = CATEGORY_LABELS[response.routedCategory || "CATEGORY_UNSPECIFIED"];
    const what = state.query.image !== undefined
      ? "images like " + state.query.imageName
      : "\u201c" + state.query.text + "\u201d";
    const range = hits.length ? "results " + first + "\u2013" + (first + hits.length - 1) : "no results";
    const searched = routed === "unspecified" ? "all categories" : routed + "s";
    el.summary.textContent = "";
    const line = document.createElement("span");
    line.textContent = range + " of " + candidates + " for " + what + ", searched " +
      searched + ", answered by model version ";
    const v = document.createElement("strong");
    v.id = "answered-version";
    v.textContent = version;
    el.summary.append(line, v);
    el.summary.dataset.numCandidates = String(candidates);

    const end = Math.min(candidates, MAX_RANK);
    el.prev.disabled = state.offset === 0;
    el.next.disabled = state.offset + request.topK >= end;
    const size = pageSize();
    el.pageInfo.textContent = "page " + (Math.floor(state.offset / size) + 1) + " of " +
      Math.max(1, Math.ceil(end / size));
    el.pager.hidden = candidates === 0 && state.offset === 0;
    state.searches += 1;
    el.results.dataset.searches = String(state.searches);
  }

  async function moreLikeThis(name) {
    const generation = ++state.generation;
    clearError();
    setBusy(true);
    try {
      const response = await send("GET", imagePath(name, 0), undefined, "default");
      const bytes = new Uint8Array(await response.arrayBuffer());
      if (generation !== state.generation) return;
      state.query = {image: bytesToBase64(bytes), imageName: name};
      state.offset = 0;
      el.text.value = "";
      el.text.placeholder = "Images like " + name + " \u2014 or type a description";
    } catch (err) {
      if (generation === state.generation) {
        showError(err);
        setBusy(false);
      }
      return;
    }
    await runSearch();
  }

  // ---- events -------------------------------------------------------------

  el.form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = el.text.value.trim();
    if (!text) {
      showError({status: "", message: "Type a description to search for."});
      el.text.focus();
      return;
    }
    state.query = {text: text};
    state.offset = 0;
    runSearch();
  });

  for (const select of [el.category, el.color, el.type, el.brand]) {
    select.addEventListener("change", () => { state.offset = 0; runSearch(); });
  }
  el.flags.addEventListener("change", () => { state.offset = 0; runSearch(); });
  el.pageSize.addEventListener("change", () => {
    state.offset = Math.floor(state.offset / pageSize()) * pageSize();
    runSearch();
  });
  el.clearFilters.addEventListener("click", () => {
    for (const select of el.filters.querySelectorAll("select")) select.value = "";
    state.offset = 0;
    runSearch();
  });
  el.version.addEventListener("change", async () => {
    clearError();
    try {
      await loadModelInfo(el.version.value);
    } catch (err) {
      showError(err);
      return;
    }
    // The query (a text, or the bytes of an image) is asked again of the
    // newly selected version.
    state.offset = 0;
    runSearch();
  });
  el.prev.addEventListener("click", () => {
    state.offset = Math.max(0, state.offset - pageSize());
    runSearch();
  });
  el.next.addEventListener("click", () => {
    state.offset += pageSize();
    runSearch();
  });
  el.tokenForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    state.token = el.token.value.trim();
    sessionStorage.setItem("retrieval-token", state.token);
    el.tokenBox.hidden = true;
    await start();
  });

  async function start() {
    clearError();
    setBusy(true);
    try {
      await loadModelInfo(el.version.value || "0");
      document.body.dataset.ready = "1";
      if (state.query) await runSearch();
    } catch (err) {
      showError(err);
    } finally {
      setBusy(false);
    }
  }

  start();
})();
