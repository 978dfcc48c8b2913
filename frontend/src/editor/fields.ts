/** The post and its per-platform variants: root fragments `post` and `post.<platform>`. */
export const FIELDS = [
  { field: 'post', label: 'Post', limit: 0 },
  { field: 'post.instagram', label: 'Instagram', limit: 2200 },
  { field: 'post.x', label: 'X', limit: 280 },
  { field: 'post.linkedin', label: 'LinkedIn', limit: 3000 },
  { field: 'post.facebook', label: 'Facebook', limit: 63206 },
  { field: 'post.tiktok', label: 'TikTok', limit: 2200 },
]
