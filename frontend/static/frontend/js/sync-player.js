// Two <video> elements driven as one: one play/pause, one position, one speed, manual looping.
//
// The longer video leads; the other follows its clock. While playing, small drift is absorbed by nudging the
// follower's playbackRate (a seek would stall it on a keyframe), large drift by a seek. Pausing, seeking and
// frame steps set both elements to the same time, so a paused pair always shows the same instant.

const HARD_RESYNC_S = 0.25; // beyond this a rate nudge would take too long; seek instead
const NUDGE_GAIN = 1.5; // rate correction per second of drift (drift 0.02 s → ±3 %)
const NUDGE_MAX = 0.12; // never change the follower's rate by more than 12 %
const MAX_HOLD_MS = 1000; // longest wait for a stalled video before the pair plays on regardless
export const SPEEDS = [0.25, 0.5, 0.75, 1, 1.25, 1.5, 2];

export class SyncPlayer extends EventTarget {
  constructor(left, right) {
    super();
    this.videos = [left, right];
    this.rate = 1;
    this.loop = true;
    this.wantPlaying = false;
    this.fps = 24;
    this._raf = 0;
    this._token = 0;
    this._waitingFor = null; // the video whose stall holds the other one, if any
    this._waitingSince = 0;
    this._resumeWaiting = null;
    // Seeks asked for while a video is still seeking wait for it (the last one wins): piling seeks up, as
    // scrubbing and held-down step keys do, makes decoders thrash and can leave an element seeking for good.
    this._pending = new Map();
    for (const video of this.videos) {
      video.addEventListener("seeked", () => {
        if (!this._pending.has(video)) return;
        const t = this._pending.get(video);
        this._pending.delete(video);
        video.currentTime = t;
      });
      video.loop = false; // looping is done here so that both restart together
      video.addEventListener("ended", () => this._onEnded(video));
      video.addEventListener("waiting", () => this._onWaiting(video));
      video.addEventListener("playing", () => this._emit());
      video.addEventListener("pause", () => this._emit());
    }
  }

  get leader() {
    const [a, b] = this.videos;
    return (b.duration || 0) > (a.duration || 0) ? b : a;
  }

  get follower() {
    return this.leader === this.videos[0] ? this.videos[1] : this.videos[0];
  }

  get duration() {
    return this.leader.duration || 0;
  }

  get currentTime() {
    const leader = this.leader;
    return this._pending.get(leader) ?? (leader.currentTime || 0);
  }

  get frameDuration() {
    return 1 / this.fps;
  }

  // Load a new pair; resolves once both can show their first frame (or rejects on a media error).
  load(leftMeta, rightMeta) {
    const token = ++this._token;
    this.wantPlaying = false;
    this._waitingFor = null;
    this._pending.clear();
    this.fps = Math.max(leftMeta.fps || 0, rightMeta.fps || 0) || 24;
    const ready = this.videos.map((video, i) => {
      const meta = i === 0 ? leftMeta : rightMeta;
      return new Promise((resolve, reject) => {
        const done = () => { cleanup(); resolve(); };
        const fail = () => {
          // An error event queued by the previous source (refused once its lease was gone, or aborted by this
          // load) can arrive after the new source is set: only an error of this source counts.
          if (!video.error || video.src !== new URL(meta.url, document.baseURI).href) return;
          cleanup();
          reject(new Error(video.error.message || "The video could not be loaded."));
        };
        const cleanup = () => {
          video.removeEventListener("loadeddata", done);
          video.removeEventListener("error", fail);
        };
        video.addEventListener("loadeddata", done);
        video.addEventListener("error", fail);
        video.pause();
        video.src = meta.url;
        video.playbackRate = this.rate;
        video.load();
      });
    });
    this._emit();
    return Promise.all(ready).then(() => {
      if (token !== this._token) return false; // a newer pair replaced this one while it loaded
      this._emit();
      return true;
    });
  }

  async play() {
    this.wantPlaying = true;
    const leader = this.leader;
    if (leader.ended || leader.currentTime >= this.duration - 1e-3) this._setBoth(0);
    else this._alignFollower(this.frameDuration / 2); // a seek costs a stall: only when visibly apart
    this._applyRate();
    this._startTicking();
    try {
      await Promise.all(this.videos.map((v) => (v.currentTime < (v.duration || 0) ? v.play() : null)));
    } catch (error) {
      // Interrupted by a pause or a new load: not an error the annotator needs to see.
      if (error.name !== "AbortError") throw error;
    }
    this._emit();
  }

  pause() {
    this.wantPlaying = false;
    for (const video of this.videos) video.pause();
    this._alignFollower();
    this._emit();
  }

  toggle() {
    return this.wantPlaying ? this.pause() : this.play();
  }

  seek(seconds) {
    this._setBoth(seconds);
    this._emit();
  }

  // Step whole frames; lands in the middle of the target frame so that rounding never shows its neighbour.
  step(frames) {
    this.pause();
    const current = Math.floor(this.currentTime * this.fps + 1e-6);
    const last = Math.max(0, Math.ceil(this.duration * this.fps) - 1);
    const target = Math.min(last, Math.max(0, current + frames));
    this.seek((target + 0.5) / this.fps);
  }

  setRate(rate) {
    this.rate = rate;
    this._applyRate();
    this._emit();
  }

  changeSpeed(direction) {
    const index = SPEEDS.indexOf(this.rate);
    const next = SPEEDS[Math.min(SPEEDS.length - 1, Math.max(0, (index < 0 ? 3 : index) + direction))];
    this.setRate(next);
  }

  setLoop(loop) {
    this.loop = loop;
    this._emit();
  }

  setMuted(muted) {
    for (const video of this.videos) video.muted = muted;
    this._emit();
  }

  get muted() {
    return this.videos[0].muted;
  }

  // The index of the frame on screen (0-based) and the count, in the leader's frame rate.
  get frame() {
    return {
      index: Math.min(Math.floor(this.currentTime * this.fps + 1e-6), Math.max(0, Math.ceil(this.duration * this.fps) - 1)),
      count: Math.max(1, Math.round(this.duration * this.fps)),
    };
  }

  _setBoth(seconds) {
    const t = Math.max(0, Math.min(seconds, this.duration || 0));
    for (const video of this.videos) {
      // A shorter video holds its last frame while the longer one finishes.
      this._seekVideo(video, Math.min(t, Math.max(0, (video.duration || 0) - 1e-3)));
    }
  }

  _seekVideo(video, t) {
    if (video.seeking) this._pending.set(video, t);
    else {
      this._pending.delete(video);
      video.currentTime = t;
    }
  }

  _alignFollower(tolerance = 0) {
    const follower = this.follower;
    const t = this.leader.currentTime;
    if ((follower.duration || 0) > t && Math.abs(follower.currentTime - t) > tolerance) this._seekVideo(follower, t);
  }

  _applyRate() {
    for (const video of this.videos) video.playbackRate = this.rate;
  }

  _onEnded(video) {
    if (video !== this.leader || !this.wantPlaying) {
      if (video === this.leader) this._emit();
      return;
    }
    if (this.loop) {
      this._setBoth(0);
      this.play();
    } else {
      this.wantPlaying = false;
      this._emit();
    }
  }

  // One element ran out of data: hold the other so that they do not drift apart; resume when it can play
  // again, when it reaches its end instead, or after a second at most (a hold must never become a hang).
  _onWaiting(video) {
    // Seeks (ours) also fire "waiting"; only a stall in playback should hold the other video.
    if (!this.wantPlaying || video.seeking || this._waitingFor === video) return;
    this._waitingFor = video;
    this._waitingSince = performance.now();
    const other = video === this.videos[0] ? this.videos[1] : this.videos[0];
    other.pause();
    const events = ["canplay", "playing", "ended"];
    const resume = () => {
      for (const name of events) video.removeEventListener(name, resume);
      if (this._waitingFor !== video) return;
      this._waitingFor = null;
      if (this.wantPlaying) this.play();
    };
    for (const name of events) video.addEventListener(name, resume);
    this._resumeWaiting = resume;
  }

  _startTicking() {
    if (this._raf) return;
    const tick = () => {
      this._raf = 0;
      if (!this.wantPlaying) return;
      this._correctDrift();
      this.dispatchEvent(new Event("timeupdate"));
      this._raf = requestAnimationFrame(tick);
    };
    this._raf = requestAnimationFrame(tick);
  }

  _correctDrift() {
    const leader = this.leader;
    const follower = this.follower;
    if (this._waitingFor) {
      if (performance.now() - this._waitingSince < MAX_HOLD_MS) return;
      this._resumeWaiting();
      return;
    }
    // Safety net: a video that stopped on its own (a decoder hiccup) while the pair should play is restarted.
    const stalled = this.videos.find((v) => v.paused && !v.ended && v.currentTime < (v.duration || 0) - 1e-3);
    if (stalled && this.videos.every((v) => v.readyState >= 3)) {
      this.play();
      return;
    }
    if (leader.paused || follower.paused || leader.seeking || follower.seeking) return;
    const t = leader.currentTime;
    if (t >= (follower.duration || 0)) return; // the follower is done and holds its last frame
    const drift = follower.currentTime - t;
    if (Math.abs(drift) > HARD_RESYNC_S) {
      follower.currentTime = t;
      follower.playbackRate = this.rate;
    } else {
      const nudge = Math.max(-NUDGE_MAX, Math.min(NUDGE_MAX, drift * NUDGE_GAIN));
      const wanted = this.rate * (1 - nudge);
      // Rate changes are not free for the media pipeline: skip the ones too small to matter.
      if (Math.abs(follower.playbackRate - wanted) > this.rate * 0.005) follower.playbackRate = wanted;
    }
  }

  _emit() {
    this.dispatchEvent(new Event("statechange"));
  }
}
