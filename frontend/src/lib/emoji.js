// A small, bundled set of common emoji, grouped like a phone keyboard. A group's
// name is in the catalogue under emoji.<key>. They are plain
// Unicode text, drawn by the reader's own system font.
export const EMOJI_GROUPS = [
  {
    key: 'smileys',
    icon: '😀',
    emoji:
      '😀 😃 😄 😁 😆 😅 😂 🤣 🙂 🙃 😉 😊 😇 🥰 😍 🤩 😘 😗 😚 😋 😛 😜 🤪 😝 🤗 🤭 🤫 🤔 🤐 🤨 😐 😑 😶 😏 😒 🙄 😬 😌 😔 😪 😴 😷 🤒 🤕 🤢 🤧 🥵 🥶 😵 🤯 🤠 🥳 😎 🤓 🧐 😕 😟 🙁 😮 😯 😲 😳 🥺 😦 😧 😨 😰 😥 😢 😭 😱 😖 😣 😞 😓 😩 😫 🥱 😤 😡 😠 🤬 😈 💀 💩 🤡 👻 👽 🤖',
  },
  {
    key: 'people',
    icon: '👍',
    emoji:
      '👋 🤚 ✋ 🖖 👌 🤌 🤏 ✌️ 🤞 🤟 🤘 🤙 👈 👉 👆 👇 ☝️ 👍 👎 ✊ 👊 🤛 🤜 👏 🙌 👐 🤲 🤝 🙏 ✍️ 💪 🧠 👀 👁️ 👅 👄 👶 🧒 👦 👧 🧑 👨 👩 🧓 👴 👵 🙋 🙆 🙅 🤷 🤦 🙇 💁 🧑‍💻 🧑‍🍳 🧑‍🏫 🧑‍🔧 🕺 💃 🚶 🏃',
  },
  {
    key: 'hearts',
    icon: '❤️',
    emoji:
      '❤️ 🧡 💛 💚 💙 💜 🤎 🖤 🤍 💔 ❣️ 💕 💞 💓 💗 💖 💘 💝 💯 💢 💥 💫 💦 💨 💬 💭 💤 ✨ ⭐ 🌟 🔥 🎉 🎊',
  },
  {
    key: 'nature',
    icon: '🐶',
    emoji:
      '🐶 🐱 🐭 🐹 🐰 🦊 🐻 🐼 🐨 🐯 🦁 🐮 🐷 🐸 🐵 🐔 🐧 🐦 🐤 🦆 🦉 🐺 🐴 🦄 🐝 🐛 🦋 🐌 🐞 🐢 🐍 🐙 🐠 🐬 🐳 🌵 🌲 🌳 🌴 🌱 🌿 🍀 🍁 🍂 🌷 🌹 🌻 🌼 🌸 🌞 🌝 🌙 🌈 ☀️ ⛅ ☁️ 🌧️ ⛈️ ❄️ ☃️ 🌊',
  },
  {
    key: 'food',
    icon: '🍕',
    emoji:
      '🍏 🍎 🍐 🍊 🍋 🍌 🍉 🍇 🍓 🫐 🍒 🍑 🥭 🍍 🥥 🥝 🍅 🥑 🥦 🥕 🌽 🌶️ 🥔 🥐 🍞 🥖 🧀 🥚 🍳 🥞 🥓 🍔 🍟 🍕 🌭 🥪 🌮 🌯 🥗 🍝 🍜 🍲 🍣 🍱 🍚 🍦 🍩 🍪 🎂 🍰 🧁 🍫 🍬 🍿 ☕ 🍵 🥤 🍺 🍻 🥂 🍷',
  },
  {
    key: 'activities',
    icon: '⚽',
    emoji:
      '⚽ 🏀 🏈 ⚾ 🎾 🏐 🏉 🎱 🏓 🏸 🥅 ⛳ 🎣 🚴 🏊 🏄 ⛷️ 🏂 🎿 🏆 🥇 🥈 🥉 🏅 🎮 🎲 🧩 ♟️ 🎯 🎳 🎭 🎨 🎬 🎤 🎧 🎼 🎹 🥁 🎷 🎺 🎸 🎻',
  },
  {
    key: 'travel',
    icon: '🚗',
    emoji:
      '🚗 🚕 🚌 🚎 🚓 🚑 🚒 🚲 🛴 🏍️ 🚂 ✈️ 🚀 🛸 🚁 ⛵ 🚢 🏠 🏡 🏢 🏫 🏥 ⛺ 🗺️ ⏰ ⌛ 📱 💻 ⌨️ 🖥️ 🖨️ 📷 📺 📻 💡 🔦 📚 📖 📝 ✏️ 📎 📌 📅 📦 ✉️ 📬 🔑 🔒 🔓 🔨 🛠️ 🧰 💰 💳 🎁 🎈',
  },
  {
    key: 'symbols',
    icon: '✅',
    emoji:
      '✅ ☑️ ✔️ ❌ ❎ ➕ ➖ ➗ ✖️ ❓ ❔ ❗ ❕ ⚠️ 🚫 ⛔ 🔴 🟠 🟡 🟢 🔵 🟣 ⚫ ⚪ 🔺 🔻 🔶 🔷 ▶️ ⏸️ ⏹️ ⏩ ⏪ 🔁 🔀 ⬆️ ⬇️ ⬅️ ➡️ ↩️ ↪️ 🔔 🔕 📣 🆗 🆕 🆒 🆘 ♻️ ™️ ©️ ®️',
  },
].map((group) => ({ ...group, emoji: group.emoji.split(' ') }))
