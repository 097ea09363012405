// Files dragged from the desktop onto an element: it says so while they hover, and
// hands them over when dropped. Text or links dragged within the page are left alone.
import { ref } from 'vue'

function carriesFiles(event) {
  return Array.from(event.dataTransfer?.types || []).includes('Files')
}

export function useFileDrop(onFiles) {
  const hovering = ref(false)
  // dragenter and dragleave fire for every child crossed: count them to know when the
  // files left the element itself.
  let depth = 0

  function enter(event) {
    if (!carriesFiles(event)) return
    event.preventDefault()
    depth += 1
    hovering.value = true
  }

  // Cancelling dragover is what lets the element take the drop.
  function over(event) {
    if (!carriesFiles(event)) return
    event.preventDefault()
    event.dataTransfer.dropEffect = 'copy'
  }

  function leave(event) {
    if (!carriesFiles(event)) return
    depth = Math.max(0, depth - 1)
    if (depth === 0) hovering.value = false
  }

  function dropped(event) {
    if (!carriesFiles(event)) return
    event.preventDefault()
    depth = 0
    hovering.value = false
    if (event.dataTransfer.files.length) onFiles(event.dataTransfer.files)
  }

  return { hovering, enter, over, leave, dropped }
}
